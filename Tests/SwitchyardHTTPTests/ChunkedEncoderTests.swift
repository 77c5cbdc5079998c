import Testing
import SwitchyardHTTP

@Suite("Chunked encoder")
struct ChunkedEncoderTests {
    static func encode(_ body: [UInt8]) -> [UInt8] {
        var out = ByteBuffer()
        defer { out.release() }
        body.withUnsafeBytes { ChunkedEncoder.append($0, to: &out) }
        return Array(out.readable)
    }

    @Test func exactBytes() {
        #expect(String(decoding: Self.encode(Array("hello".utf8)), as: UTF8.self) == "5\r\nhello\r\n0\r\n\r\n")
        #expect(String(decoding: Self.encode([]), as: UTF8.self) == "0\r\n\r\n", "an empty body is just the last chunk")
        let twoChunks = Self.encode([UInt8](repeating: 0x61, count: ChunkedEncoder.maxChunkBytes + 26))
        #expect(twoChunks.starts(with: Array("4000\r\n".utf8)))
        let tail = Array(("\r\n1a\r\n" + String(repeating: "a", count: 26) + "\r\n0\r\n\r\n").utf8)
        #expect(Array(twoChunks.suffix(tail.count)) == tail)
    }

    @Test(arguments: [1, 15, 16, 255, 4096, 16383, 16384, 16385, 100_000])
    func ourDecoderReadsItBack(_ size: Int) {
        let body = (0..<size).map { UInt8(truncatingIfNeeded: $0 * 7 + 3) }
        let (progress, decoded, consumed) = decodeChunked(Self.encode(body))
        #expect(progress == .done)
        #expect(decoded == body)
        #expect(consumed == Self.encode(body).count)
    }
}
