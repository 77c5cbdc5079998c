/// Reading query items from the request bytes, without building strings.
extension HandlerRequest {
    /// What a query item holds when an integer is wanted.
    public enum QueryInteger: Sendable, Equatable {
        /// The query has no item of that name.
        case absent
        /// The item's value: decimal digits within the range asked for.
        case value(Int)
        /// The item is there but is not a whole number in range (empty,
        /// a sign, another character, too many digits, out of range).
        case invalid
    }

    /// The raw value of the first query item named `name` (the bytes after
    /// its `=`, not percent-decoded; empty for `?name` and `?name=`), or nil
    /// when there is none. Names compare byte for byte. Points into the
    /// request's buffer: valid only during the handler call. No allocation.
    public func queryItemValue(_ name: StaticString) -> UnsafeRawBufferPointer? {
        guard head.hasQuery else { return nil }
        let query = head.query.bytes(in: buffer)
        let wanted = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        var start = 0
        while start <= query.count {
            var end = start
            while end < query.count, query[end] != UInt8(ascii: "&") { end += 1 }
            var nameEnd = start
            while nameEnd < end, query[nameEnd] != UInt8(ascii: "=") { nameEnd += 1 }
            if UnsafeRawBufferPointer(rebasing: query[start..<nameEnd]).elementsEqual(wanted) {
                return UnsafeRawBufferPointer(rebasing: query[min(nameEnd + 1, end)..<end])
            }
            start = end + 1
        }
        return nil
    }

    /// Whether the query has the item `name` (`?verbose` or `?verbose=1`).
    public func hasQueryItem(_ name: StaticString) -> Bool {
        queryItemValue(name) != nil
    }

    /// The first query item named `name` read as a whole number within
    /// `range`: decimal digits only (no sign, no spaces, no percent-encoding).
    /// No allocation.
    public func queryInteger(_ name: StaticString, in range: ClosedRange<Int>) -> QueryInteger {
        guard let value = queryItemValue(name) else { return .absent }
        return Self.decimal(value, in: range).map(QueryInteger.value) ?? .invalid
    }

    /// `bytes` as a decimal number within `range`, or nil.
    static func decimal(_ bytes: UnsafeRawBufferPointer, in range: ClosedRange<Int>) -> Int? {
        guard !bytes.isEmpty else { return nil }
        var result = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = result.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            result = sum
        }
        return range.contains(result) ? result : nil
    }
}
