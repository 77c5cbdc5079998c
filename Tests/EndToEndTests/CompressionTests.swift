import Foundation
import Testing

/// Response compression: gzip when asked and worth it, identity otherwise.
@Suite("Compression")
struct CompressionTests {
    /// ~4.4 KiB of text, over min_bytes 1024.
    static let bigBody = (0..<80).map { "line \($0): the quick brown fox jumps over the lazy dog\n" }.joined()
    static let smallBody = "small body\n"

    static func yamlString(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }

    static var config: DaemonConfig {
        var config = DaemonConfig(compression: "{ enabled: true, min_bytes: 1024, level: 6 }")
        config.routes += [
            "{ path: /big, handler: builtin.text, mode: sync, options: { body: \(yamlString(bigBody)) } }",
            "{ path: /big-plain, handler: builtin.text, mode: sync, compression: false, options: { body: \(yamlString(bigBody)) } }",
            "{ path: /small, handler: builtin.text, mode: sync, options: { body: \(yamlString(smallBody)) } }",
        ]
        return config
    }

    /// Headers as curl dumped them with -D, lowercased names.
    static func dumpedHeaders(_ file: URL) -> [(String, String)] {
        let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
        return text.components(separatedBy: "\r\n").compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
    }

    @Test("curl --compressed: gzip, Vary: Accept-Encoding, and the decoded body is exact")
    func curlCompressed() throws {
        let daemon = try Daemon(Self.config)
        defer { daemon.stop() }
        let headers = daemon.dir.appendingPathComponent("headers.txt")
        let result = try curl(["-s", "--compressed", "-D", headers.path, "\(daemon.baseURL)/big"])
        #expect(result.status == 0, "curl failed: \(result.stderrString)")
        let fields = Self.dumpedHeaders(headers)
        #expect(fields.contains { $0.0 == "content-encoding" && $0.1.lowercased() == "gzip" }, "headers: \(fields)")
        #expect(fields.contains { $0.0 == "vary" && $0.1.lowercased().contains("accept-encoding") }, "headers: \(fields)")
        #expect(result.stdoutString == Self.bigBody, "decoded body differs (\(result.stdout.count) bytes)")
        let length = try #require(fields.first(where: { $0.0 == "content-length" }).flatMap({ Int($0.1) }), "\(fields)")
        #expect(length < Self.bigBody.utf8.count, "compressed Content-Length \(length) is not smaller")
    }

    @Test("compression: false on the route: identity even for curl --compressed")
    func routeOptOut() throws {
        let daemon = try Daemon(Self.config)
        defer { daemon.stop() }
        let headers = daemon.dir.appendingPathComponent("headers.txt")
        let result = try curl(["-s", "--compressed", "-D", headers.path, "\(daemon.baseURL)/big-plain"])
        #expect(result.status == 0, "curl failed: \(result.stderrString)")
        let fields = Self.dumpedHeaders(headers)
        #expect(!fields.contains { $0.0 == "content-encoding" }, "headers: \(fields)")
        #expect(result.stdoutString == Self.bigBody)
    }

    @Test("Accept-Encoding: gzip;q=0 gets identity")
    func gzipRefused() throws {
        let daemon = try Daemon(Self.config)
        defer { daemon.stop() }
        let response = try daemon.request("GET /big HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip;q=0\r\n\r\n")
        #expect(response.status == 200)
        #expect(response.header("Content-Encoding") == nil, "\(response.headers)")
        #expect(response.header("Vary") == "Accept-Encoding", "identity was a choice, so it varies too")
        #expect(response.bodyString == Self.bigBody)
        let none = try daemon.request("GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(none.header("Content-Encoding") == nil)
        #expect(none.header("Vary") == "Accept-Encoding")
    }

    @Test("a body under min_bytes gets identity")
    func smallBodyIdentity() throws {
        let daemon = try Daemon(Self.config)
        defer { daemon.stop() }
        let response = try daemon.request("GET /small HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n")
        #expect(response.status == 200)
        #expect(response.header("Content-Encoding") == nil, "\(response.headers)")
        #expect(response.header("Vary") == nil, "a small body is never compressed: nothing varies")
        #expect(response.bodyString == Self.smallBody)
    }

    @Test("raw gzip response decodes (gzip -dc) to the body")
    func rawGzipDecodes() throws {
        let daemon = try Daemon(Self.config)
        defer { daemon.stop() }
        let response = try daemon.request("GET /big HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n")
        #expect(response.status == 200)
        #expect(response.header("Content-Encoding")?.lowercased() == "gzip", "\(response.headers)")
        let gzip = try #require(E2E.which("gzip"), "gzip is needed; scripts/test installs it")
        let file = daemon.dir.appendingPathComponent("body.gz")
        try Data(response.body).write(to: file)
        let result = try runProcess(gzip, ["-dc", file.path])
        #expect(result.status == 0, "gzip -dc: \(result.stderrString)")
        #expect(result.stdoutString == Self.bigBody)
    }

    @Test("HEAD: the GET's headers and Content-Length, no body", arguments: ["identity", "gzip"])
    func headMatchesGet(_ encoding: String) throws {
        let daemon = try Daemon(Self.config)
        defer { daemon.stop() }
        let client = try daemon.connect()
        try client.send("GET /big HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: \(encoding)\r\n\r\n")
        let get = try client.readResponse()
        // HEAD, then GET on the same connection: if HEAD carried a body, the
        // GET's response would not parse as the next response.
        try client.send("HEAD /big HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: \(encoding)\r\n\r\n"
                        + "GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let head = try client.readResponse(head: true)
        let after = try client.readResponse()

        #expect(get.status == 200)
        #expect(head.status == 200)
        #expect(get.header("Content-Length") != nil, "GET has no Content-Length: \(get.headers)")
        #expect(head.header("Content-Length") == get.header("Content-Length"),
                "HEAD \(head.header("Content-Length") ?? "nil") vs GET \(get.header("Content-Length") ?? "nil")")
        #expect(head.header("Content-Encoding") == get.header("Content-Encoding"))
        if encoding == "gzip" {
            #expect(get.header("Content-Encoding")?.lowercased() == "gzip", "\(get.headers)")
        } else {
            #expect(get.header("Content-Encoding") == nil, "\(get.headers)")
            #expect(get.bodyString == Self.bigBody)
        }
        #expect(after.status == 200, "after HEAD: \(visible(after.raw))")
        #expect(after.bodyString == "hello\n", "HEAD seems to have carried a body: \(visible(after.raw))")
    }

    @Test("Accept-Encoding over two lines combines: gzip;q=0 then * gets deflate, not gzip")
    func repeatedAcceptEncoding() throws {
        let daemon = try Daemon(Self.config)
        defer { daemon.stop() }
        let response = try daemon.request("GET /big HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip;q=0\r\nAccept-Encoding: *\r\n\r\n")
        #expect(response.header("Content-Encoding") == "deflate")
    }

    @Test("If-None-Match: the gzip tag gets 304 for gzip; the identity tag does not, nor does a 404's")
    func conditionalRequests() throws {
        var config = Self.config
        config.routes.append(#"{ path: /missing, handler: builtin.text, mode: sync, options: { status: 404, body: "gone" } }"#)
        config.routes.append(#"{ path: /form, methods: [GET, POST], handler: builtin.text, mode: sync, options: { body: "form" } }"#)
        let daemon = try Daemon(config)
        defer { daemon.stop() }
        let plain = try daemon.request("GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
        let tag = try #require(plain.header("ETag"))
        let gzipTag = String(tag.dropLast()) + "-gzip\""
        let hit = try daemon.request("GET /big HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\nIf-None-Match: \(gzipTag)\r\n\r\n", head: true)
        #expect(hit.status == 304)
        #expect(hit.header("ETag") == gzipTag)
        #expect(hit.header("Vary") == "Accept-Encoding")
        let other = try daemon.request("GET /big HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\nIf-None-Match: \(tag)\r\n\r\n")
        #expect(other.status == 200, "an identity copy is not the gzip representation")
        #expect(other.header("Content-Encoding") == "gzip")
        let twoLines = try daemon.request("GET /big HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"x\"\r\nIf-None-Match: \(tag)\r\n\r\n", head: true)
        #expect(twoLines.status == 304, "every If-None-Match line counts")
        let post = try daemon.request("POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nIf-None-Match: *\r\n\r\n")
        #expect(post.status == 412, "If-None-Match on POST is a precondition")
        let missing = try daemon.request("GET /missing HTTP/1.1\r\nHost: a\r\nIf-None-Match: *\r\n\r\n")
        #expect(missing.status == 404)
        #expect(missing.header("ETag") == nil)
    }

    @Test("never compressed: images, event streams, 206 — no Content-Encoding and no Vary", arguments: [
        "content_type: image/png", "content_type: text/event-stream", "status: 206",
    ])
    func notCompressible(_ option: String) throws {
        var config = Self.config
        config.routes.append("{ path: /other, handler: builtin.text, mode: sync, options: { \(option), body: \(Self.yamlString(Self.bigBody)) } }")
        let daemon = try Daemon(config)
        defer { daemon.stop() }
        let response = try daemon.request("GET /other HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip, deflate\r\n\r\n")
        #expect(response.header("Content-Encoding") == nil, "\(option): \(response.headers)")
        #expect(response.header("Vary") == nil, "\(option): \(response.headers)")
        #expect(response.bodyString == Self.bigBody)
    }

    @Test("a handler's own answer (echo of 3 KB) is gzipped too, and decodes to the same JSON")
    func handlerAnswerCompressed() throws {
        let daemon = try Daemon(Self.config)
        defer { daemon.stop() }
        let payload = String(repeating: "compress me, ", count: 240)
        let request = "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(payload.utf8.count)\r\n"
        let plain = try daemon.request(request + "\r\n" + payload)
        let gzipped = try daemon.request(request + "Accept-Encoding: gzip\r\n\r\n" + payload)
        #expect(gzipped.header("Content-Encoding") == "gzip", "\(gzipped.headers)")
        #expect(gzipped.header("Vary") == "Accept-Encoding")
        let gzip = try #require(E2E.which("gzip"))
        let file = daemon.dir.appendingPathComponent("echo.gz")
        try Data(gzipped.body).write(to: file)
        let decoded = try runProcess(gzip, ["-dc", file.path])
        // Same JSON but for the Accept-Encoding header echo lists.
        let plainEcho = try Echo(plain), zippedEcho = try Echo(HTTPResponse(version: "HTTP/1.1", status: 200, reason: "",
                                                                            headers: [], body: Array(decoded.stdout), raw: []))
        #expect(zippedEcho.body == payload)
        #expect(plainEcho.body == zippedEcho.body)
    }
}
