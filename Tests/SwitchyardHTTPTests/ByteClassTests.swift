import Testing
import SwitchyardHTTP

/// Every byte value at every offset of a long target, header name and field
/// value, against the RFC 9110/9112 sets written out here (not read from
/// the parser's tables). The offsets cross the parser's 16-byte blocks, so
/// its vector scan, the table loop after it, and the tail shorter than a
/// block each meet every byte.
@Suite("Request parser: byte classes")
struct ByteClassTests {
    static let digits = Array(0x30...0x39).map(UInt8.init)
    static let letters = Array(0x41...0x5A).map(UInt8.init) + Array(0x61...0x7A).map(UInt8.init)
    /// tchar (RFC 9110 §5.6.2).
    static let token = Set(digits + letters + Array("!#$%&'*+-.^_`|~".utf8))
    /// A request target's bytes: visible ASCII; '#' starts a fragment, which is never sent (RFC 9112 §3.2).
    static let target = Set((0x21...0x7E).map(UInt8.init)).subtracting([0x23])
    /// field-vchar, SP and HTAB inside a value (RFC 9110 §5.5): VCHAR and obs-text.
    static let fieldValue = Set((0x21...0x7E).map(UInt8.init) + (0x80...0xFF).map(UInt8.init) + [0x20, 0x09])

    static let offsets = Array(0...35)
    static let filler = Array("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ".utf8)

    static func parse(_ bytes: [UInt8]) -> (ParseResult, IncrementalParse) {
        var p = IncrementalParse()
        return (p.feed(bytes), p)
    }

    static func isComplete(_ result: ParseResult) -> Bool {
        if case .complete = result { return true }
        return false
    }

    @Test("target: every byte at every offset", arguments: offsets)
    func targetByte(offset: Int) {
        for b in 0...255 {
            let byte = UInt8(b)
            let path = [0x2F] + Self.filler[0..<offset] + [byte] + Self.filler[0..<20]
            let request = Array("GET ".utf8) + path + Array(" HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
            let (result, p) = Self.parse(request)
            let allowed = Self.target.contains(byte)
            #expect(Self.isComplete(result) == allowed, "byte 0x\(String(b, radix: 16)) at \(offset): \(result)")
            guard case .complete(let head) = result else { continue }
            let expectedPath = byte == 0x3F ? Array(path[0...offset]) : path
            #expect(p.text(head.path) == String(decoding: expectedPath, as: UTF8.self))
            #expect(head.hasQuery == (byte == 0x3F))
            #expect(head.pathIsPlain == ![0x3F, 0x25, 0x2E].contains(byte), "byte 0x\(String(b, radix: 16))")
        }
    }

    @Test("field value: every byte at every offset", arguments: offsets)
    func valueByte(offset: Int) {
        for b in 0...255 {
            let byte = UInt8(b)
            let value = Self.filler[0..<offset] + [byte] + Self.filler[0..<20]
            let request = Array("GET / HTTP/1.1\r\nHost: a\r\nX-Test: ".utf8) + value + Array("\r\n\r\n".utf8)
            let (result, p) = Self.parse(request)
            #expect(Self.isComplete(result) == Self.fieldValue.contains(byte), "byte 0x\(String(b, radix: 16)) at \(offset): \(result)")
            if Self.isComplete(result) {
                // Whitespace before the value is not part of it.
                let leading = offset == 0 && (byte == 0x20 || byte == 0x09)
                #expect(p.header(1).1 == String(decoding: leading ? Array(value.dropFirst()) : Array(value), as: UTF8.self))
            }
        }
    }

    @Test("field name: every byte at every offset", arguments: offsets)
    func nameByte(offset: Int) {
        for b in 0...255 {
            let byte = UInt8(b)
            let name = Array("X-".utf8) + Self.filler[0..<offset] + [byte] + Self.filler[0..<20]
            let request = Array("GET / HTTP/1.1\r\nHost: a\r\n".utf8) + name + Array(": v\r\n\r\n".utf8)
            let (result, p) = Self.parse(request)
            // A colon ends the name early; the rest is a valid value.
            #expect(Self.isComplete(result) == (Self.token.contains(byte) || byte == 0x3A), "byte 0x\(String(b, radix: 16)) at \(offset): \(result)")
            if Self.isComplete(result), byte != 0x3A {
                #expect(p.header(1).0 == String(decoding: name, as: UTF8.self))
            }
        }
    }
}
