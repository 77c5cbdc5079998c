import Foundation
import Testing

/// Persistent connections: reuse on HTTP/1.1, the HTTP/1.0 rules, and
/// `Connection: close` (RFC 9112 §9).
@Suite("Keep-alive and connection close")
struct KeepAliveTests {
    @Test("two requests on one raw connection are both answered")
    func twoRequestsOnOneConnection() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try daemon.connect()

        try client.send("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let first = try client.readResponse()
        #expect(first.statusLine == "HTTP/1.1 200 OK")
        #expect(first.bodyString == "hello\n")
        #expect(!first.saysClose, "first response says Connection: close: \(visible(first.raw))")

        try client.send("GET /echo?second=1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let second = try client.readResponse()
        #expect(second.status == 200)
        let echo = try Echo(second)
        #expect(echo.method == "GET")
        #expect(echo.path == "/echo")
        #expect(echo.queryText == "second=1")
        #expect(client.staysOpenAndSilent(for: 0.3), "the connection closed after two requests")
    }

    @Test("curl with two URLs reuses the connection")
    func curlReusesConnection() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let result = try curl(["-sv", "\(daemon.baseURL)/hello", "\(daemon.baseURL)/hello"])
        #expect(result.status == 0, "curl failed: \(result.stderrString)")
        #expect(result.stdoutString == "hello\nhello\n")
        #expect(result.stderrString.contains("Re-using existing connection"),
                "curl did not reuse the connection:\n\(result.stderrString)")
        #expect(result.stderrString.contains("left intact"),
                "curl did not leave the connection intact:\n\(result.stderrString)")
    }

    @Test("HTTP/1.0 without keep-alive: the server closes after the response")
    func http10ClosesByDefault() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try daemon.connect()
        try client.send("GET /hello HTTP/1.0\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(response.bodyString == "hello\n")
        #expect(!response.headerTokens("Connection").contains("keep-alive"),
                "1.0 response without keep-alive request says keep-alive: \(visible(response.raw))")
        let rest = client.readUntilClosed(timeout: 5)
        #expect(rest.closed, "server kept an HTTP/1.0 connection open without keep-alive")
        #expect(rest.bytes.isEmpty, "extra bytes after the response: \(visible(rest.bytes))")
    }

    @Test("HTTP/1.0 with Connection: keep-alive keeps the connection and says so")
    func http10KeepAlive() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try daemon.connect()
        for round in 1...2 {
            try client.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200, "round \(round)")
            #expect(response.bodyString == "hello\n", "round \(round)")
            #expect(response.headerTokens("Connection").contains("keep-alive"),
                    "round \(round): no Connection: keep-alive in \(visible(response.raw))")
            #expect(response.header("Content-Length") == "6", "round \(round)")
        }
        #expect(client.staysOpenAndSilent(for: 0.5), "server closed a 1.0 keep-alive connection")
    }

    @Test("HTTP/1.1 Connection: close gets Connection: close and a closed socket")
    func connectionClose() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try daemon.connect()
        try client.send("GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(response.bodyString == "hello\n")
        #expect(response.saysClose, "no Connection: close in \(visible(response.raw))")
        let rest = client.readUntilClosed(timeout: 5)
        #expect(rest.closed, "server did not close after Connection: close")
        #expect(rest.bytes.isEmpty, "extra bytes: \(visible(rest.bytes))")
    }

    @Test("HTTP/1.0 keep-alive: the server's own 404 says keep-alive too, and the connection is reused")
    func http10KeepAliveOnServerAnswers() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try daemon.connect()
        try client.send("GET /nope HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        let notFound = try client.readResponse()
        #expect(notFound.status == 404)
        #expect(notFound.headerTokens("Connection").contains("keep-alive"), "\(visible(notFound.raw))")
        try client.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try client.readResponse().bodyString == "hello\n")
    }
}
