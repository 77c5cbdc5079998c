#if canImport(Glibc)
import Glibc
#endif

/// The `Date: …\r\n` header line in IMF-fixdate form, formatted at most once a
/// second. One per loop thread.
public struct DateCache {
    /// `Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n` — always 37 bytes.
    public private(set) var line: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
    @inlinable public static var lineLength: Int { 37 }
    private var second: Int = -1
    /// The monotonic time (ms) by which the wall-clock second has turned.
    @usableFromInline var nextCheck: UInt64 = 0

    public init() { refresh() }

    /// Re-formats if the wall-clock second changed; cheap otherwise. Writes
    /// the bytes in place, so a long-running loop allocates nothing for it.
    public mutating func refresh() {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME_COARSE, &ts)
        let now = Int(ts.tv_sec)
        if now == second { return }
        second = now
        var t = time_t(now)
        var parts = tm()
        gmtime_r(&t, &parts)
        let days: StaticString = "SunMonTueWedThuFriSat"
        let months: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"
        withUnsafeMutableBytes(of: &line) { out in
            var i = 0
            func put(_ byte: UInt8) { out[i] = byte; i += 1 }
            func put(_ text: StaticString) { for k in 0..<text.utf8CodeUnitCount { put(text.utf8Start[k]) } }
            func three(_ names: StaticString, _ index: Int32) { for k in 0..<3 { put(names.utf8Start[Int(index) * 3 + k]) } }
            func digits(_ value: Int32, _ count: Int) {
                var divisor: Int32 = 1
                for _ in 1..<count { divisor *= 10 }
                while divisor > 0 { put(UInt8(48 + value / divisor % 10)); divisor /= 10 }
            }
            put("Date: "); three(days, parts.tm_wday); put(", ")
            digits(parts.tm_mday, 2); put(" "); three(months, parts.tm_mon); put(" "); digits(parts.tm_year + 1900, 4)
            put(" "); digits(parts.tm_hour, 2); put(":"); digits(parts.tm_min, 2); put(":"); digits(parts.tm_sec, 2)
            put(" GMT\r\n")
            precondition(i == DateCache.lineLength)
        }
    }

    /// Re-formats only once the wall-clock second may have turned, judged
    /// from the loop's monotonic time (read once a turn): no clock read per request.
    @inlinable
    public mutating func refresh(monotonicNow: UInt64) {
        guard monotonicNow >= nextCheck else { return }
        refreshAt(monotonicNow: monotonicNow)
    }

    @usableFromInline mutating func refreshAt(monotonicNow: UInt64) {
        refresh()
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME_COARSE, &ts)
        nextCheck = monotonicNow + UInt64(1000 - min(999, ts.tv_nsec / 1_000_000))
    }

    /// Appends the cached line.
    @inlinable public func append(to out: inout ByteBuffer) {
        out.append(prefixOf: line, byteCount: DateCache.lineLength)
    }
}
