/// A caller-owned array of header fields with fixed capacity, reused across
/// requests so parsing allocates nothing. One per loop.
public struct HeaderTable {
    /// More header fields than this is answered 431.
    public static let capacity = 100

    @usableFromInline var storage: UnsafeMutablePointer<HeaderField>
    public internal(set) var count: Int = 0

    public init() {
        storage = .allocate(capacity: HeaderTable.capacity)
    }

    /// An owned copy of `other`'s fields, sized to fit them (for a request
    /// that leaves the loop). Release it like any other.
    public init(copying other: HeaderTable) {
        storage = .allocate(capacity: max(1, other.count))
        storage.initialize(from: other.storage, count: other.count)
        count = other.count
    }

    /// An owned table of `count` fields read from `bytes` as `fieldBytes`
    /// wrote them (the same binary on both ends: a worker process).
    public init(fieldBytes bytes: UnsafeRawBufferPointer, count: Int) {
        precondition(bytes.count == count * MemoryLayout<HeaderField>.stride)
        storage = .allocate(capacity: max(1, count))
        UnsafeMutableRawPointer(storage).copyMemory(from: bytes.baseAddress ?? UnsafeRawPointer(storage), byteCount: bytes.count)
        self.count = count
    }

    /// The fields as raw bytes, for handing a request to a worker process.
    public var fieldBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage, count: count * MemoryLayout<HeaderField>.stride)
    }

    @inlinable public subscript(i: Int) -> HeaderField {
        precondition(i < count)
        return storage[i]
    }

    /// Calls `body` with the value of each field named `lowercaseName` (any case on the wire).
    @inlinable public func forEachValue(named lowercaseName: StaticString, in buffer: UnsafeRawBufferPointer,
                                        _ body: (UnsafeRawBufferPointer) -> Void) {
        for i in 0..<count {
            let field = storage[i]
            if equalsIgnoringCase(field.name.bytes(in: buffer), lowercaseName) { body(field.value.bytes(in: buffer)) }
        }
    }

    mutating func append(_ field: HeaderField) -> Bool {
        if count == HeaderTable.capacity { return false }
        storage[count] = field
        count += 1
        return true
    }

    /// Frees the storage; the table must not be used afterwards.
    public mutating func release() {
        storage.deallocate()
        count = 0
    }
}
