/// Byte classes of RFC 9110/9112, as one 256-entry table so each check is a load.
@usableFromInline enum CharacterClass {
    @usableFromInline static let tchar: UInt8 = 1       // token characters
    @usableFromInline static let fieldValue: UInt8 = 2  // VCHAR, obs-text, SP, HTAB
    @usableFromInline static let target: UInt8 = 4      // visible ASCII in a request target, but not '#'
    @usableFromInline static let plainPath: UInt8 = 8   // `target` but not '?', '%' or '.': a path to take as it is

    /// `table` in plain memory: the parser reads it without touching an array.
    @usableFromInline nonisolated(unsafe) static let bytes: UnsafePointer<UInt8> = {
        let memory = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        memory.initialize(from: table, count: 256)
        return UnsafePointer(memory)
    }()

    @usableFromInline static let table: [UInt8] = {
        var t = [UInt8](repeating: 0, count: 256)
        for b in 0..<256 {
            let c = UInt8(b)
            var v: UInt8 = 0
            let isAlnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
            if isAlnum || "!#$%&'*+-.^_`|~".utf8.contains(c) { v |= tchar }
            if (c >= 0x21 && c <= 0x7E) || c >= 0x80 || c == 0x20 || c == 0x09 { v |= fieldValue }
            if c >= 0x21 && c <= 0x7E && c != 0x23 { v |= target }   // a fragment is never sent (RFC 9112 §3.2)
            if v & target != 0 && c != 0x3F && c != 0x25 && c != 0x2E { v |= plainPath }
            t[b] = v
        }
        return t
    }()
}

@inlinable public func lowercased(_ c: UInt8) -> UInt8 {
    (c >= 0x41 && c <= 0x5A) ? c | 0x20 : c
}

/// Whether `bytes` equals `lower` ignoring ASCII case; `lower` is lower case.
/// Header names, codings and media types are all compared this way.
@inlinable public func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lower: StaticString) -> Bool {
    guard bytes.count == lower.utf8CodeUnitCount else { return false }
    let l = lower.utf8Start
    for i in 0..<bytes.count where lowercased(bytes[i]) != l[i] { return false }
    return true
}
