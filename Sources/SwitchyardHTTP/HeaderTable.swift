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
