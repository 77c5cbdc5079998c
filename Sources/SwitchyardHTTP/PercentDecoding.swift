#if canImport(Glibc)
import Glibc
#endif

/// The request path, made ready for routing: `%XX` decoded once, and the
/// shapes that would let a path mean one thing here and another elsewhere
/// refused rather than guessed at.
public enum PercentDecoding {
    /// Appends `path` with each `%XX` decoded to `out`. Returns why not
    /// instead: a malformed escape (`%G1`, a `%` near the end), an encoded
    /// NUL, or an encoded `/` — which would split or join segments
    /// differently from a proxy that routes on the raw path (RFC 3986 §2.2).
    public static func decodePath(_ path: UnsafeRawBufferPointer, into out: inout ByteBuffer) -> StaticReason? {
        out.reserve(path.count)
        var i = 0
        let n = path.count
        while i < n {
            let c = path[i]
            if c == 0x25 {
                guard i + 2 < n, let hi = ChunkedDecoder.hexValue(path[i + 1]),
                      let lo = ChunkedDecoder.hexValue(path[i + 2]) else { return .invalidPercentEncoding }
                let byte = UInt8(hi << 4 | lo)
                if byte == 0 { return .invalidPercentEncoding }
                if byte == 0x2F { return .encodedSlash }
                out.append(byte)
                i += 3
            } else {
                out.append(c)
                i += 1
            }
        }
        return nil
    }

    /// Whether `path` contains a `%` at all (the common case needs no copy).
    @inlinable public static func needsDecoding(_ path: UnsafeRawBufferPointer) -> Bool {
        path.contains(0x25)
    }

    /// Whether a segment of the (decoded) path is `.` or `..`. Clients
    /// resolve these before sending (RFC 3986 §5.2.4); one that arrives is
    /// refused rather than resolved, so no route sees a path that climbs.
    public static func hasDotSegment(_ path: UnsafeRawBufferPointer) -> Bool {
        guard let base = path.baseAddress else { return false }
        let p = base.assumingMemoryBound(to: UInt8.self)
        let n = path.count
        // Most paths hold no '.' at all: one memchr decides.
        var i = 0
        while i < n, let dot = memchr(p + i, 0x2E, n - i) {
            let at = base.distance(to: dot)
            if at > 0, p[at - 1] == 0x2F {
                let after = at + 1 < n && p[at + 1] == 0x2E ? at + 2 : at + 1
                if after == n || p[after] == 0x2F { return true }
            }
            i = at + 1
        }
        return false
    }
}
