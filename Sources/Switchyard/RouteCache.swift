import SwitchyardRouting

/// The last routing answers of one loop, for the common case of a few hot
/// paths: a small direct-mapped table from (decoded path, method) to the
/// route that serves it, filled from `Router.match` and only for routes
/// without parameters, so a hit is exactly what the router would say.
/// Cleared when the loop takes up a new generation. Loop thread only.
struct RouteCache: ~Copyable {
    static let slots = 64
    static let maxPathBytes = 48

    private struct Entry {
        var hash: UInt32 = 0
        var method: UInt16 = 0
        var length: UInt16 = 0
        var route: Int32 = -1
    }

    private let entries: UnsafeMutablePointer<Entry>
    private let paths: UnsafeMutableRawPointer

    init() {
        entries = .allocate(capacity: Self.slots)
        entries.initialize(repeating: Entry(), count: Self.slots)
        paths = .allocate(byteCount: Self.slots * Self.maxPathBytes, alignment: 8)
    }

    deinit {
        entries.deallocate()
        paths.deallocate()
    }

    // Paths are read in words, the last one overlapping the one before it
    // (or, under 8 bytes, two halves that may overlap): no byte loop, and
    // never a byte beyond the path.

    @inline(__always) private static func hash(_ p: UnsafeRawPointer, _ n: Int, _ method: MethodSet) -> UInt64 {
        let k: UInt64 = 0x9e37_79b9_7f4a_7c15
        var h = UInt64(method.rawValue) << 48 ^ UInt64(n)
        if n >= 8 {
            var i = 0
            while i + 8 < n { h = (h ^ p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* k; i += 8 }
            h ^= p.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        } else if n >= 4 {
            h ^= UInt64(p.loadUnaligned(as: UInt32.self)) | UInt64(p.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)) << 32
        } else if n > 0 {
            h ^= UInt64(p.load(as: UInt8.self)) | UInt64(p.load(fromByteOffset: n - 1, as: UInt8.self)) << 8
                | UInt64(p.load(fromByteOffset: n / 2, as: UInt8.self)) << 16
        }
        h = h &* k
        return h ^ h >> 32
    }

    @inline(__always) private static func equal(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
        if n >= 8 {
            var i = 0
            while i + 8 < n {
                if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
                i += 8
            }
            return a.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        }
        if n >= 4 {
            return a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
                && a.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self) == b.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
        }
        for i in 0..<n where a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        return true
    }

    /// The route for `path` and `method`, if cached.
    @inline(__always) func route(for path: UnsafeRawBufferPointer, _ method: MethodSet) -> Int? {
        let n = path.count
        guard n <= Self.maxPathBytes, let p = path.baseAddress else { return nil }
        let h = Self.hash(p, n, method)
        let slot = Int(truncatingIfNeeded: h) & (Self.slots - 1)
        let entry = entries[slot]
        guard entry.route >= 0, entry.hash == UInt32(truncatingIfNeeded: h >> 32), entry.method == method.rawValue,
              Int(entry.length) == n, Self.equal(paths + slot * Self.maxPathBytes, p, n) else { return nil }
        return Int(entry.route)
    }

    mutating func remember(_ route: Int, for path: UnsafeRawBufferPointer, _ method: MethodSet) {
        let n = path.count
        guard n <= Self.maxPathBytes, route <= Int(Int32.max), let p = path.baseAddress else { return }
        let h = Self.hash(p, n, method)
        let slot = Int(truncatingIfNeeded: h) & (Self.slots - 1)
        entries[slot] = Entry(hash: UInt32(truncatingIfNeeded: h >> 32), method: method.rawValue,
                              length: UInt16(n), route: Int32(route))
        (paths + slot * Self.maxPathBytes).copyMemory(from: p, byteCount: n)
    }

    mutating func clear() {
        for i in 0..<Self.slots { entries[i].route = -1 }
    }
}
