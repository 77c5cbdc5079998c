import SwitchyardHTTP

/// Writes JSON text straight into a byte buffer in one pass over the input
/// bytes: runs of plain ASCII are copied whole, quotes, backslashes and
/// control bytes escaped, valid UTF-8 copied as it is and each invalid byte
/// replaced by U+FFFD. No `String` is built, so a 1 MiB body costs about
/// as much as copying it.
struct JSONWriter {
    /// 0: copied as is; 1: needs a short or \u escape; 2: starts a UTF-8 sequence (or is invalid).
    private static let byteKind: [UInt8] = (0..<256).map { b in
        if b < 0x20 || b == 0x22 || b == 0x5C { return 1 }
        return b < 0x80 ? 0 : 2
    }
    private static let replacement: StaticString = "\u{FFFD}"

    /// Appends `bytes` as a quoted JSON string.
    static func appendString(_ bytes: UnsafeRawBufferPointer, to out: inout ByteBuffer) {
        out.reserve(bytes.count + 2)
        out.append(UInt8(ascii: "\""))
        let n = bytes.count
        var i = 0
        byteKind.withUnsafeBufferPointer { kind in
            escapes.withUnsafeBufferPointer { escapes in
                escapeLength.withUnsafeBufferPointer { escapeLength in
                    while i < n {
                        let runStart = i
                        while i < n, kind[Int(bytes[i])] == 0 { i += 1 }
                        if i > runStart { out.append(UnsafeRawBufferPointer(rebasing: bytes[runStart..<i])) }
                        guard i < n else { break }
                        if kind[Int(bytes[i])] == 1 {
                            // A run of bytes to escape, written straight into reserved space.
                            var end = i
                            while end < n, kind[Int(bytes[end])] == 1 { end += 1 }
                            out.reserve((end - i) * 6)
                            let dst = out.writable.baseAddress!.assumingMemoryBound(to: UInt8.self)
                            var written = 0
                            while i < end {
                                let b = Int(bytes[i])
                                let length = Int(escapeLength[b])
                                for k in 0..<length { dst[written + k] = escapes[b * 6 + k] }
                                written += length
                                i += 1
                            }
                            out.didWrite(written)
                        } else {
                            let length = validSequenceLength(bytes, at: i)
                            if length == 0 {
                                out.append(UnsafeRawBufferPointer(start: replacement.utf8Start, count: replacement.utf8CodeUnitCount))
                                i += 1
                            } else {
                                out.append(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + length)]))
                                i += length
                            }
                        }
                    }
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    static func appendString(_ text: String, to out: inout ByteBuffer) {
        var text = text
        text.withUTF8 { appendString(UnsafeRawBufferPointer($0), to: &out) }
    }

    /// Each byte's escape, 6 bytes per entry (`\u00XX`, or a short form
    /// padded), with its length in `escapeLength`.
    private static let escapes: [UInt8] = (0..<256).flatMap { b -> [UInt8] in
        let short: String? = [0x22: "\\\"", 0x5C: "\\\\", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"][b]
        let hex = Array("0123456789abcdef".utf8)
        let text = short.map { Array($0.utf8) } ?? (Array("\\u00".utf8) + [hex[b >> 4], hex[b & 0xF]])
        return text + [UInt8](repeating: 0, count: 6 - text.count)
    }
    private static let escapeLength: [UInt8] = (0..<256).map { b in [0x22, 0x5C, 0x0A, 0x0D, 0x09].contains(b) ? 2 : 6 }

    /// The length of the well-formed UTF-8 sequence at `i` (RFC 3629: no
    /// overlong forms, no surrogates, nothing past U+10FFFF), or 0.
    @inline(__always)
    private static func validSequenceLength(_ bytes: UnsafeRawBufferPointer, at i: Int) -> Int {
        let n = bytes.count
        let b0 = bytes[i]
        @inline(__always) func continuation(_ k: Int, _ low: UInt8 = 0x80, _ high: UInt8 = 0xBF) -> Bool {
            i + k < n && bytes[i + k] >= low && bytes[i + k] <= high
        }
        switch b0 {
        case 0xC2...0xDF: return continuation(1) ? 2 : 0
        case 0xE0: return continuation(1, 0xA0) && continuation(2) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF: return continuation(1) && continuation(2) ? 3 : 0
        case 0xED: return continuation(1, 0x80, 0x9F) && continuation(2) ? 3 : 0
        case 0xF0: return continuation(1, 0x90) && continuation(2) && continuation(3) ? 4 : 0
        case 0xF1...0xF3: return continuation(1) && continuation(2) && continuation(3) ? 4 : 0
        case 0xF4: return continuation(1, 0x80, 0x8F) && continuation(2) && continuation(3) ? 4 : 0
        default: return 0
        }
    }
}
