/// Sixteen bytes at a time for the long runs of a request head: a target's
/// plain path and a field value. Each function reads exactly 16 bytes (the
/// caller checks they are there) and returns how many leading ones are in
/// the class, 16 if all; the caller's table loop then looks at the byte
/// that stopped it, and at a tail shorter than 16. The classes are
/// `CharacterClass.plainPath` and `.fieldValue` exactly; the parser's
/// every-byte tests hold them to it.
///
/// Written with the standard SIMD types: compares of whole vectors (not a
/// vector against a scalar, which the compiler does lane by lane) lower to
/// SSE2 on x86-64 and NEON on arm64.
enum ByteScan {
    typealias Lanes = SIMD16<Int8>

    /// Bytes of `CharacterClass.plainPath`: 0x21...0x7E but '#', '%', '.' and '?'.
    @inline(__always)
    static func plainPath(_ p: UnsafePointer<UInt8>) -> Int {
        let v = UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
        let visible = lanes(v .> Lanes(repeating: 0x20)) & lanes(v .< Lanes(repeating: 0x7F))
        let stop = lanes(v .== Lanes(repeating: 0x23)) | lanes(v .== Lanes(repeating: 0x25))
            | lanes(v .== Lanes(repeating: 0x2E)) | lanes(v .== Lanes(repeating: 0x3F))
        return firstSet(~visible | stop)
    }

    /// Bytes of `CharacterClass.fieldValue`: HTAB, SP...0x7E and obs-text (0x80 and up).
    @inline(__always)
    static func fieldValue(_ p: UnsafePointer<UInt8>) -> Int {
        let v = UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
        // Signed lanes: 0x20...0x7F are above 0x1F, obs-text is below 0.
        let allowed = lanes(v .> Lanes(repeating: 0x1F)) | lanes(v .< Lanes(repeating: 0)) | lanes(v .== Lanes(repeating: 0x09))
        return firstSet(~allowed | lanes(v .== Lanes(repeating: 0x7F)))
    }

    @inline(__always) private static func lanes(_ mask: SIMDMask<Lanes>) -> Lanes {
        unsafeBitCast(mask, to: Lanes.self)
    }

    /// The index of the first lane with bits set (lanes are all-ones or
    /// zero), 16 if none: lane i is byte i of the little-endian words.
    @inline(__always) private static func firstSet(_ v: Lanes) -> Int {
        let words = unsafeBitCast(v, to: SIMD2<UInt64>.self)
        if words[0] != 0 { return words[0].trailingZeroBitCount &>> 3 }
        return 8 &+ (words[1].trailingZeroBitCount &>> 3)
    }
}
