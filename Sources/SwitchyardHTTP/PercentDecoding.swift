/// Percent-decoding of a request path, done once before routing.
public enum PercentDecoding {
    /// Appends `path` with each `%XX` decoded to `out`. Returns false for a
    /// malformed escape (`%G1`, a `%` near the end) or an encoded NUL, which
    /// the server answers 400.
    public static func decodePath(_ path: UnsafeRawBufferPointer, into out: inout ByteBuffer) -> Bool {
        out.reserve(path.count)
        var i = 0
        let n = path.count
        while i < n {
            let c = path[i]
            if c == 0x25 {
                guard i + 2 < n, let hi = ChunkedDecoder.hexValue(path[i + 1]),
                      let lo = ChunkedDecoder.hexValue(path[i + 2]) else { return false }
                let byte = UInt8(hi << 4 | lo)
                if byte == 0 { return false }
                out.append(byte)
                i += 3
            } else {
                out.append(c)
                i += 1
            }
        }
        return true
    }

    /// Whether `path` contains a `%` at all (the common case needs no copy).
    @inlinable public static func needsDecoding(_ path: UnsafeRawBufferPointer) -> Bool {
        path.contains(0x25)
    }
}
