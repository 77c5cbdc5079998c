/// A growable byte buffer with manual lifetime, for the request path.
///
/// It is a plain struct over malloc'd memory so that connection tables and loop
/// scratch space can hold it without a class or reference counting per request.
/// The owner calls `release()` exactly once; copies share storage, so only one
/// copy may be used after a mutation. Not thread-safe: one owner thread.
public struct ByteBuffer {
    public private(set) var base: UnsafeMutableRawPointer?
    public private(set) var capacity: Int
    /// Number of bytes written.
    public var count: Int

    /// An empty buffer that owns no memory yet.
    public init() { base = nil; capacity = 0; count = 0 }

    public init(capacity: Int) {
        self.base = capacity > 0 ? UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16) : nil
        self.capacity = capacity
        self.count = 0
    }

    @inlinable public var isEmpty: Bool { count == 0 }
    @inlinable public var freeSpace: Int { capacity - count }

    /// Frees the memory. The buffer is empty afterwards.
    public mutating func release() {
        base?.deallocate()
        base = nil; capacity = 0; count = 0
    }

    /// Makes room for at least `extra` more bytes, growing geometrically.
    @inlinable public mutating func reserve(_ extra: Int) {
        if capacity - count >= extra { return }
        grow(to: count + extra)
    }

    /// Grows to exactly `total` bytes of capacity if it has less, for a size
    /// known in advance (a request body of known length).
    public mutating func reserveExactly(total: Int) {
        guard total > capacity else { return }
        let newBase = UnsafeMutableRawPointer.allocate(byteCount: total, alignment: 16)
        if let base, count > 0 { newBase.copyMemory(from: base, byteCount: count) }
        base?.deallocate()
        base = newBase
        capacity = total
    }

    @usableFromInline mutating func grow(to minimum: Int) {
        var newCapacity = max(capacity * 2, 256)
        while newCapacity < minimum { newCapacity *= 2 }
        let newBase = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        if let base, count > 0 { newBase.copyMemory(from: base, byteCount: count) }
        base?.deallocate()
        base = newBase
        capacity = newCapacity
    }

    @inlinable public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        reserve(bytes.count)
        (base! + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        count += bytes.count
    }

    /// Appends bytes into room made before with `reserve`: a copy and a count.
    @inlinable @inline(__always) public mutating func appendReserved(_ bytes: UnsafeRawBufferPointer) {
        (base! + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        count += bytes.count
    }

    @inlinable public mutating func append(_ byte: UInt8) {
        reserve(1)
        base!.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    @inlinable public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    @inlinable public mutating func append(_ string: StaticString) {
        append(UnsafeRawBufferPointer(start: string.utf8Start, count: string.utf8CodeUnitCount))
    }

    /// Literals take the StaticString overload, which needs no UTF-8 view.
    @_disfavoredOverload
    public mutating func append(_ string: String) {
        var string = string
        string.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Appends the first `byteCount` bytes of a trivial value (a tuple of
    /// words) with plain stores: no call to memcpy for a short, fixed line.
    @inlinable public mutating func append<T: BitwiseCopyable>(prefixOf value: T, byteCount: Int) {
        reserve(MemoryLayout<T>.size)
        base!.storeBytes(of: value, toByteOffset: count, as: T.self)
        count += byteCount
    }

    /// Appends `value` in decimal.
    public mutating func appendDecimal(_ value: Int) {
        precondition(value >= 0)
        var digits = 1, rest = UInt(value) / 10
        while rest > 0 { digits &+= 1; rest /= 10 }
        appendDigits(value, count: digits)
    }

    /// Appends the last `count` decimal digits of `value` (≥ 0), leading
    /// zeros included: written in place, right to left.
    public mutating func appendDigits(_ value: Int, count digits: Int) {
        reserve(digits)
        let out = base! + count
        var v = UInt(bitPattern: value), i = digits
        while i > 0 {
            i &-= 1
            let (quotient, digit) = v.quotientAndRemainder(dividingBy: 10)
            out.storeBytes(of: UInt8(truncatingIfNeeded: 48 &+ digit), toByteOffset: i, as: UInt8.self)
            v = quotient
        }
        count += digits
    }

    /// Whether every byte held is CR or LF (empty lines before a request).
    public var holdsOnlyLineEnds: Bool {
        readable.allSatisfy { $0 == 0x0D || $0 == 0x0A }
    }

    /// Drops the first `n` bytes, moving the rest to the front.
    public mutating func consumeFront(_ n: Int) {
        precondition(n <= count)
        if n == count { count = 0; return }
        base!.copyMemory(from: base! + n, byteCount: count - n)
        count -= n
    }

    /// The written bytes. Valid until the next mutation.
    @inlinable public var readable: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base, count: count)
    }

    /// Space after the written bytes, for `read` to fill; call `didWrite` after.
    @inlinable public var writable: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base.map { $0 + count }, count: capacity - count)
    }

    @inlinable public mutating func didWrite(_ n: Int) {
        precondition(count + n <= capacity)
        count += n
    }
}
