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

    @Test("the responses to one read leave in one write (seen with strace)", .timeLimit(.minutes(2)))
    func oneWritePerRead() throws {
        guard let strace = E2E.which("strace") else { throw E2EError("strace is needed (apt: strace); scripts/test installs it") }
        let daemon = try Daemon()
        defer { daemon.stop() }
        // Attached to the running daemon (every thread), so signals and exit stay the daemon's own.
        let trace = daemon.dir.appendingPathComponent("strace.txt").path
        let messages = daemon.dir.appendingPathComponent("strace.log").path
        let tracer = try ChildProcess(strace, ["-f", "-p", "\(daemon.pid)", "-e", "trace=write,writev,sendto,sendmsg", "-o", trace],
                                      environment: E2E.childEnvironment(), stdoutPath: "/dev/null", stderrPath: messages)
        let attached = now() + 20
        while (try? String(contentsOfFile: messages, encoding: .utf8))?.contains("attached") != true {
            guard now() < attached, tracer.poll() == nil else { throw E2EError("strace did not attach to \(daemon.pid)") }
            sleep(seconds: 0.05)
        }
        let client = try daemon.connect()
        let request = "GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n"
        try client.send(String(repeating: request, count: 10))
        var received = 0
        for i in 0..<10 {
            let response = try client.readResponse(timeout: 15)
            #expect(response.status == 200, "response \(i)")
            received += response.raw.count
        }
        tracer.kill(SIGINT)   // strace detaches and exits
        _ = tracer.waitOrKill(timeout: 10)
        // Lines such as: 1234  write(7, "HTTP/1.1 200 OK\r\nServer: switchyard\r\n"..., 1050) = 1050
        let responseWrites = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
            .filter { $0.contains("\"HTTP/1.1 ") }
        #expect(responseWrites.count == 1, "\(responseWrites.joined(separator: "\n"))")
        let written = responseWrites.first.flatMap { line in
            line.split(separator: "=").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        }
        #expect(written == received, "one write carried all 10 responses (\(received) bytes)")
    }
}
