/// Chunked transfer coding for response bodies (RFC 9112 §7.1): hex size
/// lines, the data, and the zero-size last chunk with no trailers.
public enum ChunkedEncoder {
    /// Chunks of at most this many bytes, so a client can start on a large
    /// body before its end is framed.
    public static let maxChunkBytes = 16384

    /// Appends `body` as chunks followed by the last chunk.
    public static func append(_ body: UnsafeRawBufferPointer, to out: inout ByteBuffer) {
        var offset = 0
        while offset < body.count {
            let size = min(maxChunkBytes, body.count - offset)
            appendHex(size, to: &out)
            out.append("\r\n")
            out.append(UnsafeRawBufferPointer(rebasing: body[offset..<(offset + size)]))
            out.append("\r\n")
            offset += size
        }
        out.append("0\r\n\r\n")
    }

    static func appendHex(_ value: Int, to out: inout ByteBuffer) {
        precondition(value > 0)
        let digits: StaticString = "0123456789abcdef"
        var shift = (Int.bitWidth - value.leadingZeroBitCount - 1) / 4 * 4
        while shift >= 0 {
            out.append(digits.utf8Start[(value >> shift) & 0xf])
            shift -= 4
        }
    }
}
