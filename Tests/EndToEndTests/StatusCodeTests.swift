import Foundation
import Testing

/// A request the server must refuse with `status` and then close.
struct RefusedRequest: Sendable, CustomTestStringConvertible {
    var name: String
    var wire: String
    var status: Int
    var testDescription: String { "\(status) \(name)" }
}

/// Limits used by the refusal tests: small, so the requests stay small.
let tightLimits = ["max_header_bytes": 4096, "max_body_bytes": 1024, "max_target_bytes": 2048]

/// Sends `wire` (all of it, in one write if the server lets us) and checks the
/// response is `status` on HTTP/1.1 with `Connection: close`, followed by a
/// close and no other bytes.
/// `splitAt` sends the request in two writes, the second after a pause, so
/// the server's own buffering sees it cut there.
func expectRefusedAndClosed(_ daemon: Daemon, _ wire: String, status: Int, splitAt: Int? = nil,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
    let client = try daemon.connect()
    if let splitAt {
        let bytes = Array(wire.utf8)
        client.trySend(Array(bytes[..<splitAt]))
        usleep(3000)
        client.trySend(Array(bytes[splitAt...]))
    } else {
        client.trySend(wire)
    }
    let response = try client.readResponse(timeout: 10)
    #expect(response.status == status, "got \(visible(response.raw))", sourceLocation: sourceLocation)
    #expect(response.version == "HTTP/1.1", "\(visible(response.raw))", sourceLocation: sourceLocation)
    #expect(response.saysClose, "no Connection: close on \(response.status): \(visible(response.raw))",
            sourceLocation: sourceLocation)
    let rest = client.readUntilClosed(timeout: 5)
    #expect(rest.closed, "connection still open 5 s after \(response.status)", sourceLocation: sourceLocation)
    #expect(rest.bytes.isEmpty, "bytes after the \(response.status): \(visible(rest.bytes))", sourceLocation: sourceLocation)
}

@Suite("Status codes the server produces")
struct StatusCodeTests {
    static let refusals: [RefusedRequest] = [
        RefusedRequest(name: "request line without spaces", wire: "GARBAGE\r\n\r\n", status: 400),
        RefusedRequest(name: "invalid method character", wire: "G@T /hello HTTP/1.1\r\nHost: localhost\r\n\r\n", status: 400),
        RefusedRequest(name: "Content-Length over max_body_bytes",
                       wire: "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\n\r\n", status: 413),
        RefusedRequest(name: "chunked body over max_body_bytes",
                       wire: "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                           + String(repeating: "258\r\n" + String(repeating: "a", count: 600) + "\r\n", count: 3)
                           + "0\r\n\r\n",
                       status: 413),
        RefusedRequest(name: "target over max_target_bytes",
                       wire: "GET /hello?" + String(repeating: "a", count: 3000) + " HTTP/1.1\r\nHost: localhost\r\n\r\n",
                       status: 414),
        RefusedRequest(name: "one header field over max_header_bytes",
                       wire: "GET /hello HTTP/1.1\r\nHost: localhost\r\nX-Big: " + String(repeating: "b", count: 6000) + "\r\n\r\n",
                       status: 431),
        RefusedRequest(name: "fewer than 100 header fields, but over max_header_bytes",
                       wire: "GET /hello HTTP/1.1\r\nHost: localhost\r\n"
                           + (0..<60).map { "X-Field-\($0): " + String(repeating: "v", count: 70) + "\r\n" }.joined() + "\r\n",
                       status: 431),
        RefusedRequest(name: "Transfer-Encoding: gzip",
                       wire: "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n", status: 501),
        RefusedRequest(name: "HTTP/2.0 request line", wire: "GET /hello HTTP/2.0\r\nHost: localhost\r\n\r\n", status: 505),
        RefusedRequest(name: "Expect other than 100-continue",
                       wire: "POST /echo HTTP/1.1\r\nHost: localhost\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", status: 417),
        RefusedRequest(name: "CONNECT tunnel", wire: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", status: 501),
    ]

    @Test("refused, then closed", arguments: refusals)
    func refusedThenClosed(_ refusal: RefusedRequest) throws {
        let daemon = try Daemon(DaemonConfig(limits: tightLimits))
        defer { daemon.stop() }
        try expectRefusedAndClosed(daemon, refusal.wire, status: refusal.status)
        // The daemon itself is unharmed.
        let after = try daemon.request("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(after.status == 200)
    }

    @Test("404 for no route; the connection stays usable")
    func notFound() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try daemon.connect()
        try client.send("GET /no/such/route HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.statusLine == "HTTP/1.1 404 Not Found", "\(visible(response.raw))")
        try client.send("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let next = try client.readResponse()
        #expect(next.status == 200)
        #expect(next.bodyString == "hello\n")
    }

    @Test("405 with Allow listing the route's methods; the connection stays usable")
    func methodNotAllowed() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try daemon.connect()

        try client.send("DELETE /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let text = try client.readResponse()
        #expect(text.statusLine == "HTTP/1.1 405 Method Not Allowed", "\(visible(text.raw))")
        #expect(Set(text.headerTokens("Allow").map { $0.uppercased() }) == ["GET", "HEAD"],
                "Allow: \(text.headerValues("Allow"))")

        try client.send("PATCH /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n")
        let echo = try client.readResponse()
        #expect(echo.status == 405, "\(visible(echo.raw))")
        #expect(Set(echo.headerTokens("Allow").map { $0.uppercased() }) == ["GET", "HEAD", "POST", "PUT"],
                "Allow: \(echo.headerValues("Allow"))")

        try client.send("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let next = try client.readResponse()
        #expect(next.status == 200)
        #expect(next.bodyString == "hello\n")
    }

    @Test("408 when the head is not complete within header_timeout_ms, then close")
    func requestTimeout() throws {
        let daemon = try Daemon(DaemonConfig(limits: ["header_timeout_ms": 500]))
        defer { daemon.stop() }
        let client = try daemon.connect()
        let start = now()
        try client.send("GET /hello HTTP/1.1\r\nHost: localhost\r\n")   // no blank line: head incomplete
        let response = try client.readResponse(timeout: 10)
        let elapsed = now() - start
        #expect(response.status == 408, "\(visible(response.raw))")
        #expect(elapsed >= 0.4, "408 after only \(elapsed) s, before header_timeout_ms 500")
        let rest = client.readUntilClosed(timeout: 5)
        #expect(rest.closed, "connection open 5 s after 408")
        #expect(rest.bytes.isEmpty, "bytes after 408: \(visible(rest.bytes))")
    }
}
