#if canImport(Glibc)
import Glibc
#endif

/// The `Date: …\r\n` header line in IMF-fixdate form, formatted at most once a
/// second. One per loop thread.
public struct DateCache {
    /// `Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n` — always 37 bytes.
    public private(set) var line: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
    public static let lineLength = 37
    private var second: Int = -1

    public init() { refresh() }

    /// Re-formats if the wall-clock second changed; cheap otherwise.
    public mutating func refresh() {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME_COARSE, &ts)
        let now = Int(ts.tv_sec)
        if now == second { return }
        second = now
        var t = time_t(now)
        var parts = tm()
        gmtime_r(&t, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let text = "Date: \(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT\r\n"
        withUnsafeMutableBytes(of: &line) { dst in
            let bytes = Array(text.utf8)
            precondition(bytes.count == DateCache.lineLength)
            dst.copyBytes(from: bytes)
        }
    }

    /// Appends the cached line.
    @inlinable public func append(to out: inout ByteBuffer) {
        withUnsafeBytes(of: line) { out.append(UnsafeRawBufferPointer(rebasing: $0[0..<DateCache.lineLength])) }
    }
}
