import Testing
import SwitchyardHTTP

@Suite("Chunked decoder")
struct ChunkedDecoderTests {
    struct Valid: CustomTestStringConvertible, Sendable {
        var name: String
        var raw: String
        var body: String
        var testDescription: String { name }
    }

    static let valid: [Valid] = [
        Valid(name: "one chunk", raw: "5\r\nhello\r\n0\r\n\r\n", body: "hello"),
        Valid(name: "several chunks, hex sizes", raw: "3\r\nabc\r\nA\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n", body: "abc01234567890123456789"),
        Valid(name: "leading zeros", raw: "0005\r\nhello\r\n000\r\n\r\n", body: "hello"),
        Valid(name: "more leading zeros than a size has digits", raw: "00000000000000000005\r\nhello\r\n00000000000000000000\r\n\r\n", body: "hello"),
        Valid(name: "extensions ignored", raw: "5;name=value;x\r\nhello\r\n0;last\r\n\r\n", body: "hello"),
        Valid(name: "whitespace before extension", raw: "5 ;a=b\r\nhello\r\n0\r\n\r\n", body: "hello"),
        Valid(name: "trailers dropped", raw: "5\r\nhello\r\n0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n", body: "hello"),
        Valid(name: "empty body", raw: "0\r\n\r\n", body: ""),
        Valid(name: "CRLF inside data", raw: "4\r\na\r\nb\r\n0\r\n\r\n", body: "a\r\nb"),
    ]

    @Test(arguments: valid)
    func decodesWhole(_ c: Valid) {
        let raw = Array(c.raw.utf8) + Array("GET /next".utf8)
        let (progress, body, consumed) = decodeChunked(raw)
        #expect(progress == .done)
        #expect(String(decoding: body, as: UTF8.self) == c.body)
        #expect(consumed == c.raw.utf8.count, "the pipelined request after it is untouched")
    }

    @Test(arguments: valid)
    func decodesAtEverySplit(_ c: Valid) {
        let raw = Array(c.raw.utf8)
        for k in 0..<raw.count {
            var buffer = Array(raw[0..<k])
            var decoder = ChunkedDecoder()
            var rawOffset = 0, bodyEnd = 0
            let first = buffer.withUnsafeMutableBytes { decoder.decode($0, rawOffset: &rawOffset, bodyEnd: &bodyEnd, maxBodyBytes: 1 << 20) }
            #expect(first == .needMore, "split at \(k)")
            buffer.append(contentsOf: raw[k...])
            let second = buffer.withUnsafeMutableBytes { decoder.decode($0, rawOffset: &rawOffset, bodyEnd: &bodyEnd, maxBodyBytes: 1 << 20) }
            #expect(second == .done, "split at \(k)")
            #expect(String(decoding: buffer[0..<bodyEnd], as: UTF8.self) == c.body, "split at \(k)")
            #expect(rawOffset == raw.count)
        }
    }

    struct Invalid: CustomTestStringConvertible, Sendable {
        var name: String
        var raw: String
        var error: RequestError
        var testDescription: String { name }
    }

    static let invalid: [Invalid] = [
        Invalid(name: "non-hex size", raw: "g\r\n", error: .badRequest(.invalidChunkSize)),
        Invalid(name: "empty size", raw: "\r\n", error: .badRequest(.invalidChunkSize)),
        Invalid(name: "0x prefix", raw: "0x10\r\n", error: .badRequest(.invalidChunkSize)),
        Invalid(name: "size overflow", raw: "10000000000000000\r\n", error: .badRequest(.invalidChunkSize)),
        Invalid(name: "negative size", raw: "-1\r\n", error: .badRequest(.invalidChunkSize)),
        Invalid(name: "space inside size", raw: "1 0\r\n", error: .badRequest(.invalidChunkSize)),
        Invalid(name: "data longer than size", raw: "3\r\nabcd\r\n0\r\n\r\n", error: .badRequest(.invalidChunkFraming)),
        Invalid(name: "bare LF after size", raw: "3\nabc\r\n", error: .badRequest(.bareLF)),
        Invalid(name: "bare CR after size", raw: "3\rabc\r\n", error: .badRequest(.bareCR)),
        Invalid(name: "bare LF after data", raw: "3\r\nabc\n0\r\n\r\n", error: .badRequest(.bareLF)),
        Invalid(name: "bare LF in trailer", raw: "0\r\nX: 1\n\r\n", error: .badRequest(.bareLF)),
        Invalid(name: "body over the limit", raw: "11\r\n", error: .bodyTooLarge),
        Invalid(name: "chunk extension past 4 KiB", raw: "1;" + String(repeating: "a", count: 5000) + "\r\n", error: .badRequest(.chunkLineTooLong)),
        Invalid(name: "whitespace past 4 KiB", raw: "1" + String(repeating: " ", count: 5000) + "\r\n", error: .badRequest(.chunkLineTooLong)),
    ]

    @Test(arguments: invalid)
    func refuses(_ c: Invalid) {
        let (progress, _, _) = decodeChunked(Array(c.raw.utf8), maxBodyBytes: 16)
        #expect(progress == .invalid(c.error))
    }

    /// The same refusals when the bytes arrive in two parts, cut anywhere:
    /// the decoder's saved state must not let a bad framing through.
    @Test(arguments: invalid)
    func refusesAtEverySplit(_ c: Invalid) {
        let raw = Array(c.raw.utf8)
        for k in 1..<raw.count {
            var decoder = ChunkedDecoder()
            var buffer = Array(raw[..<k])
            var rawOffset = 0, bodyEnd = 0
            let first = buffer.withUnsafeMutableBytes { decoder.decode($0, rawOffset: &rawOffset, bodyEnd: &bodyEnd, maxBodyBytes: 16) }
            if first == .invalid(c.error) { continue }   // refused already, from the first part
            #expect(first == .needMore, "split at \(k): \(first)")
            buffer.append(contentsOf: raw[k...])
            let second = buffer.withUnsafeMutableBytes { decoder.decode($0, rawOffset: &rawOffset, bodyEnd: &bodyEnd, maxBodyBytes: 16) }
            #expect(second == .invalid(c.error), "split at \(k)")
        }
    }
}

extension ChunkedDecoderTests {
    @Test func framingIsBoundedNotJustTheData() {
        // 17 bytes of data under a 1,000-byte limit, but ~68 KB of extensions around them.
        let chunk = "1;" + String(repeating: "x", count: 3990) + "\r\na\r\n"
        let raw = String(repeating: chunk, count: 17) + "0\r\n\r\n"
        let (progress, _, _) = decodeChunked(Array(raw.utf8), maxBodyBytes: 1000)
        #expect(progress == .invalid(.bodyTooLarge))
        let fine = String(repeating: chunk, count: 10) + "0\r\n\r\n"
        #expect(decodeChunked(Array(fine.utf8), maxBodyBytes: 1000).0 == .done)
    }
}

@Suite("Percent-decoding")
struct PercentDecodingTests {
    @Test(arguments: [
        ("/plain", "/plain"), ("/h%65llo", "/hello"), ("/a%20b", "/a b"), ("/caf%C3%A9", "/café"), ("/%7e", "/~"),
        ("/a%2eb", "/a.b"), ("/%2541", "/%41"),   // decoded once: %25 is '%', and that is all
    ])
    func decodes(_ input: String, _ expected: String) {
        var out = ByteBuffer()
        defer { out.release() }
        let refusal = Array(input.utf8).withUnsafeBytes { PercentDecoding.decodePath($0, into: &out) }
        #expect(refusal == nil)
        #expect(String(decoding: out.readable, as: UTF8.self) == expected)
    }

    @Test(arguments: [
        ("/%G1", StaticReason.invalidPercentEncoding), ("/%4", .invalidPercentEncoding), ("/%", .invalidPercentEncoding),
        ("/a%00b", .invalidPercentEncoding), ("/%%41", .invalidPercentEncoding),
        ("/a%2Fb", .encodedSlash), ("/a%2fb", .encodedSlash),
    ])
    func refuses(_ input: String, _ reason: StaticReason) {
        var out = ByteBuffer()
        defer { out.release() }
        #expect(Array(input.utf8).withUnsafeBytes { PercentDecoding.decodePath($0, into: &out) } == reason)
    }

    @Test(arguments: [
        ("/a/../b", true), ("/a/./b", true), ("/..", true), ("/.", true), ("/a/..", true),
        ("/a/.b", false), ("/a/..b", false), ("/a./b", false), ("/...", false), ("/", false), ("/a/b", false),
    ])
    func dotSegments(_ path: String, _ found: Bool) {
        #expect(Array(path.utf8).withUnsafeBytes { PercentDecoding.hasDotSegment($0) } == found, "\(path)")
    }
}
