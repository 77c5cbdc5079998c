import CZlib
import Testing
import SwitchyardCompression
import SwitchyardHTTP

private func negotiate(_ header: String?) -> ContentCoding {
    guard let header else { return AcceptEncoding.negotiate(UnsafeRawBufferPointer(start: nil, count: 0), hasHeader: false) }
    return Array(header.utf8).withUnsafeBytes { AcceptEncoding.negotiate($0, hasHeader: true) }
}

@Suite("Accept-Encoding negotiation")
struct AcceptEncodingTests {
    @Test(arguments: [
        (nil, ContentCoding.identity),
        ("", .identity),
        ("gzip", .gzip),
        ("GZIP", .gzip),
        ("x-gzip", .gzip),
        ("deflate", .deflate),
        ("gzip, deflate, br", .gzip),
        ("deflate, gzip", .gzip),                       // a tie prefers gzip
        ("gzip;q=0.5, deflate", .deflate),
        ("gzip;q=0.5, deflate;q=0.8", .deflate),
        ("gzip ; q=0.9 , deflate;q=0.1", .gzip),
        ("gzip;q=0", .identity),
        ("gzip;q=0.000", .identity),
        ("gzip;q=0, *", .deflate),                     // * covers what is not listed
        ("*", .gzip),
        ("*;q=0", .identity),                          // nothing acceptable: identity, not 406
        ("*;q=0, gzip", .gzip),
        ("identity", .identity),
        ("identity;q=1, gzip;q=0.5", .identity),
        ("identity;q=0, deflate;q=0.2", .deflate),
        ("br, zstd", .identity),
        ("gzip;q=1.5", .identity),                     // malformed q: entry unacceptable
        ("gzip;q=abc, deflate;q=0.1", .deflate),
        ("gzip;level=9;q=0.7", .gzip),
        (",,, gzip ,", .gzip),
    ] as [(String?, ContentCoding)])
    func negotiates(_ header: String?, _ expected: ContentCoding) {
        #expect(negotiate(header) == expected, "Accept-Encoding: \(header ?? "<absent>")")
    }
}

@Suite("Compressible types")
struct CompressiblePolicyTests {
    static func compressible(_ type: String) -> Bool {
        Array(type.utf8).withUnsafeBytes { CompressiblePolicy.isCompressible(contentType: $0) }
    }

    @Test(arguments: [
        "text/plain", "text/html; charset=utf-8", "Text/CSS", "application/json", "application/problem+json",
        "application/javascript", "application/xml", "image/svg+xml", " application/json ; charset=utf-8",
    ])
    func compresses(_ type: String) { #expect(Self.compressible(type)) }

    @Test(arguments: [
        "text/event-stream", "image/png", "image/jpeg", "application/octet-stream", "application/zip",
        "application/gzip", "video/mp4", "", "application/jsonp-but-not-really",
    ])
    func leavesAlone(_ type: String) { #expect(!Self.compressible(type)) }
}

/// xorshift64: the same bytes every run.
private func pseudoRandomBytes(_ count: Int) -> [UInt8] {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    return (0..<count).map { _ in
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return UInt8(truncatingIfNeeded: state)
    }
}

@Suite("Deflater")
struct DeflaterTests {
    /// Inflates with zlib itself: 15+32 detects the gzip or zlib wrapper.
    static func inflate(_ data: UnsafeRawBufferPointer) -> [UInt8]? {
        var stream = z_stream()
        guard switchyard_inflateInit2(&stream, 15 + 32) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        stream.next_in = UnsafeMutablePointer(mutating: data.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(data.count)
        while true {
            let result = chunk.withUnsafeMutableBufferPointer { out -> Int32 in
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                return CZlib.inflate(&stream, Z_NO_FLUSH)
            }
            output += chunk[0..<(chunk.count - Int(stream.avail_out))]
            if result == Z_STREAM_END { return stream.avail_in == 0 ? output : nil }
            if result != Z_OK { return nil }
        }
    }

    @Test(arguments: [ContentCoding.gzip, .deflate])
    func roundTripsAndReusesItsStreams(_ coding: ContentCoding) throws {
        let deflater = try #require(Deflater(level: 6))
        let inputs: [[UInt8]] = [
            [],
            Array("hello\n".utf8),
            Array(String(repeating: "Switchyard compresses this line well. ", count: 500).utf8),
            pseudoRandomBytes(70_000),   // barely compressible: output larger than a naive bound
        ]
        for input in inputs {
            var output = ByteBuffer()
            defer { output.release() }
            output.append("prefix")   // compress appends; it must not touch what is there
            input.withUnsafeBytes { deflater.compress($0, coding: coding, into: &output) }
            let body = UnsafeRawBufferPointer(rebasing: output.readable[6...])
            #expect(Array(output.readable[0..<6]) == Array("prefix".utf8))
            if coding == .gzip {
                #expect(body.prefix(2).elementsEqual([0x1f, 0x8b]), "gzip magic")
            } else {
                #expect(body.first.map { $0 & 0x0f } == 8, "zlib header: method 8 (deflate)")
            }
            #expect(Self.inflate(body) == input, "\(coding) of \(input.count) bytes")
        }
    }

    @Test func compressesRepetitiveText() throws {
        let deflater = try #require(Deflater(level: 6))
        let input = Array(String(repeating: "{\"key\": \"value\"}, ", count: 1000).utf8)
        var output = ByteBuffer()
        defer { output.release() }
        input.withUnsafeBytes { deflater.compress($0, coding: .gzip, into: &output) }
        #expect(output.count < input.count / 20)
    }
}

@Suite("ETag variants")
struct ETagVariantTests {
    static func variant(_ etag: String, _ coding: ContentCoding) -> String {
        var out = ByteBuffer()
        defer { out.release() }
        Array(etag.utf8).withUnsafeBytes { ETagVariant.append($0, coding: coding, to: &out) }
        return String(decoding: out.readable, as: UTF8.self)
    }

    static func matches(_ header: String, _ etag: String, _ coding: ContentCoding) -> Bool {
        Array(header.utf8).withUnsafeBytes { h in
            Array(etag.utf8).withUnsafeBytes { e in ETagVariant.ifNoneMatchMatches(h, etag: e, coding: coding) }
        }
    }

    @Test func strongTagsGetASuffix() {
        #expect(Self.variant("\"abc\"", .gzip) == "\"abc-gzip\"")
        #expect(Self.variant("\"abc\"", .deflate) == "\"abc-deflate\"")
        #expect(Self.variant("\"abc\"", .identity) == "\"abc\"")
        #expect(Self.variant("W/\"abc\"", .gzip) == "W/\"abc\"", "weak tags are unchanged")
    }

    @Test(arguments: [
        ("\"abc\"", ContentCoding.identity, true),
        ("\"abc-gzip\"", .gzip, true),
        ("\"abc\"", .gzip, false),               // the identity copy is not the gzip one
        ("\"abc-gzip\"", .identity, false),
        ("\"abc-gzip\"", .deflate, false),
        ("\"abc-deflate\"", .deflate, true),
        ("W/\"abc\"", .identity, true),          // weak comparison
        ("\"x\", \"abc-gzip\"", .gzip, true),
        ("\"x\" ,\"y\"", .gzip, false),
        ("*", .identity, true),
        ("\"abcd\"", .identity, false),
        ("\"ab\"", .identity, false),
        ("\"abc", .identity, false),             // malformed: no match
    ])
    func ifNoneMatch(_ header: String, _ coding: ContentCoding, _ expected: Bool) {
        #expect(Self.matches(header, "\"abc\"", coding) == expected, "If-None-Match: \(header) (\(coding))")
    }
}
