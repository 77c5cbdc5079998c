import Foundation
import Testing

/// Pipelined requests (RFC 9112 §9.3): all in one write, answered in order.
@Suite("Pipelining")
struct PipeliningTests {
    @Test("10 pipelined requests in one write get 10 responses in order")
    func tenPipelinedRequests() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try daemon.connect()

        // A mix: echo GETs with a distinct query, a POST with a body, and text
        // routes, so responses of different framing follow each other.
        var wire = ""
        for i in 0..<10 {
            switch i {
            case 3, 7: wire += "GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n"
            case 5: wire += "POST /echo?i=5 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 6\r\n\r\nbody-5"
            default: wire += "GET /echo?i=\(i) HTTP/1.1\r\nHost: localhost\r\nX-Index: \(i)\r\n\r\n"
            }
        }
        try client.send(wire)

        for i in 0..<10 {
            let response = try client.readResponse(timeout: 15)
            #expect(response.status == 200, "response \(i): \(visible(response.raw))")
            switch i {
            case 3, 7:
                #expect(response.bodyString == "hello\n", "response \(i) out of order: \(visible(response.raw))")
            case 5:
                let echo = try Echo(response)
                #expect(echo.method == "POST", "response \(i)")
                #expect(echo.queryText == "i=5", "response \(i) out of order")
                #expect(echo.body == "body-5", "response \(i)")
            default:
                let echo = try Echo(response)
                #expect(echo.method == "GET", "response \(i)")
                #expect(echo.queryText == "i=\(i)", "response \(i) out of order")
                #expect(echo.header("X-Index") == "\(i)", "response \(i) out of order")
            }
        }
        #expect(client.staysOpenAndSilent(for: 0.5), "unexpected bytes or close after 10 responses: \(visible(client.buffer))")
    }
}
