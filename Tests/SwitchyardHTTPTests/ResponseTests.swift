import Testing
import SwitchyardHTTP

/// What `Response.addHeader` records for the server's framing decisions,
/// and what it refuses to let a handler write.
/// `addHeader` is mutating; #expect cannot call it on its own argument.
private func add(_ response: inout Response, _ name: String, _ value: String) -> Bool {
    response.addHeader(name, value)
}

@Suite("Response headers")
struct ResponseTests {
    @Test func recordsWhatFramingDependsOn() {
        var response = Response()
        defer { response.release() }
        #expect(add(&response, "Content-Type", "application/json"))
        #expect(add(&response, "ETag", "\"abc\""))
        #expect(!response.isEncoded && !response.noTransform)
        #expect(add(&response, "Cache-Control", "max-age=60, No-Transform"))
        #expect(response.noTransform, "no-transform is found in a list, in any case")
        #expect(add(&response, "content-encoding", "br"))
        #expect(response.isEncoded, "a handler that encoded its body is not compressed again")
        let lines = String(decoding: response.headerLines.readable, as: UTF8.self)
        #expect(lines == "Content-Type: application/json\r\nETag: \"abc\"\r\nCache-Control: max-age=60, No-Transform\r\ncontent-encoding: br\r\n")
        #expect(response.contentType.map { String(decoding: $0.bytes(in: response.headerLines.readable), as: UTF8.self) } == "application/json")
        #expect(response.etag.map { String(decoding: $0.bytes(in: response.headerLines.readable), as: UTF8.self) } == "\"abc\"")

        response.reset()
        #expect(response.headerLines.count == 0 && response.contentType == nil && response.etag == nil)
        #expect(!response.isEncoded && !response.noTransform && !response.chunked)
    }

    @Test(arguments: [
        ("X-Evil", "a\r\nSet-Cookie: x"), ("X-Evil", "a\nb"), ("X-Nul", "a\u{0}b"), ("Bad Name", "v"), ("", "v"),
        ("Content-Length", "5"), ("Transfer-Encoding", "chunked"), ("Connection", "close"), ("Date", "x"), ("Server", "x"),
    ])
    func refusesWhatWouldBreakFraming(_ name: String, _ value: String) {
        var response = Response()
        defer { response.release() }
        #expect(!add(&response, name, value), "\(name): \(value)")
        #expect(response.headerLines.count == 0)
    }
}
