import Foundation
import Testing

/// Request bodies: chunked uploads with extensions and trailers, and
/// `Expect: 100-continue` (RFC 9110 §10.1.1).
@Suite("Request bodies")
struct RequestBodyTests {
    @Test("chunked upload in several writes, with a chunk extension and a trailer")
    func chunkedUploadRaw() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try daemon.connect()

        try client.send("POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in ["5\r\nhello\r\n", "7;ext=1\r\n, world\r\n", "a\r\n0123456789\r\n", "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n",
                      "0\r\nX-Trailer: t\r\n\r\n"] {
            sleep(seconds: 0.05)
            try client.send(piece)
        }
        let response = try client.readResponse()
        #expect(response.status == 200, "\(visible(response.raw))")
        #expect(response.header("Transfer-Encoding") == "chunked", "echo answers a chunked request chunked")
        #expect(response.header("Content-Length") == nil)
        let echo = try Echo(response)
        #expect(echo.method == "POST")
        #expect(echo.body == "hello, world0123456789abcdefghijklmnopqrstuvwxyz")

        // The connection is still usable: the decoder stopped exactly at the end.
        try client.send("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let next = try client.readResponse()
        #expect(next.status == 200)
        #expect(next.bodyString == "hello\n")
    }

    @Test("curl chunked upload of a file: echo's body equals the file")
    func chunkedUploadCurl() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let text = (0..<1500).map { "row \($0): chunked upload through curl\n" }.joined()   // ~55 KB
        let file = daemon.dir.appendingPathComponent("upload.txt")
        try text.write(to: file, atomically: true, encoding: .utf8)

        let result = try curl(["-sv", "-H", "Transfer-Encoding: chunked", "-H", "Content-Type: text/plain",
                               "--data-binary", "@\(file.path)", "\(daemon.baseURL)/echo"])
        #expect(result.status == 0, "curl failed: \(result.stderrString)")
        #expect(result.stderrString.lowercased().contains("transfer-encoding: chunked"),
                "curl did not send chunked: \(result.stderrString)")
        #expect(result.stderrString.contains("< HTTP/1.1 200"), "\(result.stderrString)")
        #expect(result.stderrString.lowercased().contains("< transfer-encoding: chunked"),
                "a ~90 KB chunked answer, decoded by curl: \(result.stderrString)")
        let echo = try Echo(HTTPResponse(version: "HTTP/1.1", status: 200, reason: "", headers: [],
                                         body: Array(result.stdout), raw: []))
        #expect(echo.method == "POST")
        #expect(echo.body.count == text.count)
        #expect(echo.body == text)
    }

    @Test("Expect: 100-continue: 100 Continue before the body, then 200")
    func expectContinue() throws {
        let daemon = try Daemon(DaemonConfig(limits: ["max_body_bytes": 1024]))
        defer { daemon.stop() }
        let client = try daemon.connect()
        try client.send("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n")
        let interim = try client.readResponse(timeout: 10)
        #expect(interim.statusLine == "HTTP/1.1 100 Continue", "\(visible(interim.raw))")
        guard interim.status == 100 else { return }

        try client.send("hello world")
        let final = try client.readResponse()
        #expect(final.status == 200, "\(visible(final.raw))")
        let echo = try Echo(final)
        #expect(echo.body == "hello world")
    }

    @Test("Expect: 100-continue with a body over max_body_bytes: 413, no 100, close")
    func expectContinueTooLarge() throws {
        let daemon = try Daemon(DaemonConfig(limits: ["max_body_bytes": 1024]))
        defer { daemon.stop() }
        let client = try daemon.connect()
        try client.send("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
        let response = try client.readResponse(timeout: 10)
        #expect(response.status == 413, "expected 413 first, got \(visible(response.raw))")
        let rest = client.readUntilClosed(timeout: 5)
        #expect(rest.closed, "connection not closed after 413")
        #expect(!visible(rest.bytes).contains("100 Continue"), "100 Continue after 413: \(visible(rest.bytes))")
        #expect(rest.bytes.isEmpty, "extra bytes after 413: \(visible(rest.bytes))")
    }

    @Test("a chunk extension that never ends: 400 once past 4 KiB, not memory held")
    func endlessChunkExtension() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try daemon.connect()
        try client.send("POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n1;")
        _ = client.trySend(Array(repeating: UInt8(ascii: "a"), count: 64 * 1024))
        let response = try client.readResponse(timeout: 10)
        #expect(response.status == 400)
        #expect(response.bodyString == "chunk size line too long\n")
        #expect(client.readUntilClosed(timeout: 5).closed)
    }

    @Test("CRLF after a body is ignored: no 408 follows the answer")
    func crlfAfterBody() throws {
        let daemon = try Daemon(DaemonConfig(limits: ["header_timeout_ms": 500, "idle_timeout_ms": 10000]))
        defer { daemon.stop() }
        let client = try daemon.connect()
        try client.send("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nab\r\n")
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(client.staysOpenAndSilent(for: 1.5), "something followed the answer: \(visible(client.buffer))")
        try client.send("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try client.readResponse().bodyString == "hello\n")
    }

    @Test("a body that stops arriving: 408 that says so, then closed")
    func stalledBody() throws {
        let daemon = try Daemon(DaemonConfig(limits: ["idle_timeout_ms": 800]))
        defer { daemon.stop() }
        let client = try daemon.connect()
        try client.send("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nabc")
        let response = try client.readResponse(timeout: 10)
        #expect(response.status == 408)
        #expect(response.bodyString == "request body not complete in time\n")
        #expect(client.readUntilClosed(timeout: 5).closed)
    }
}
