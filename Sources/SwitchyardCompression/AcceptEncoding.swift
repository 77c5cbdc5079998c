import SwitchyardHTTP

/// Content-coding negotiation from `Accept-Encoding` (RFC 9110 §12.5.3),
/// over the header's bytes, without allocating.
public enum AcceptEncoding {
    /// The coding to send: the acceptable one with the highest q-value,
    /// gzip before deflate before identity on ties. Codings not listed are
    /// acceptable only through `*`; identity is acceptable unless excluded by
    /// `identity;q=0` or by `*;q=0` without an identity entry. When nothing is
    /// acceptable we send identity rather than 406: a readable answer beats
    /// none. A malformed q-value makes its entry unacceptable.
    public static func negotiate(_ value: UnsafeRawBufferPointer, hasHeader: Bool) -> ContentCoding {
        guard hasHeader else { return .identity }
        var preferences = Preferences()
        preferences.add(value)
        return preferences.choice
    }

    /// What one or more Accept-Encoding lines ask for; several lines
    /// combine into one list (RFC 9110 §5.3).
    public struct Preferences {
        var gzip = -1, deflate = -1, identity = -1, star = -1

        public init() {}

        /// Adds the entries of one Accept-Encoding value.
        public mutating func add(_ value: UnsafeRawBufferPointer) {
            var i = 0
            let n = value.count
            while i < n {
                while i < n, value[i] == 0x20 || value[i] == 0x09 || value[i] == 0x2C { i += 1 }
                let start = i
                while i < n, value[i] != 0x2C, value[i] != 0x3B, value[i] != 0x20, value[i] != 0x09 { i += 1 }
                let coding = UnsafeRawBufferPointer(rebasing: value[start..<i])
                var q = 1000
                // Parameters up to the next comma; only q matters.
                while i < n, value[i] != 0x2C {
                    if value[i] == 0x3B {
                        i += 1
                        while i < n, value[i] == 0x20 || value[i] == 0x09 { i += 1 }
                        let paramStart = i
                        while i < n, value[i] != 0x2C, value[i] != 0x3B { i += 1 }
                        var paramEnd = i
                        while paramEnd > paramStart, value[paramEnd - 1] == 0x20 || value[paramEnd - 1] == 0x09 { paramEnd -= 1 }
                        let param = UnsafeRawBufferPointer(rebasing: value[paramStart..<paramEnd])
                        if param.count >= 2, param[0] | 0x20 == 0x71, param[1] == 0x3D {
                            q = AcceptEncoding.parseQ(UnsafeRawBufferPointer(rebasing: param[2...])) ?? 0
                        }
                    } else {
                        i += 1
                    }
                }
                if coding.isEmpty { continue }
                if equalsIgnoringCase(coding, "gzip") || equalsIgnoringCase(coding, "x-gzip") { gzip = max(gzip, q) }
                else if equalsIgnoringCase(coding, "deflate") { deflate = max(deflate, q) }
                else if equalsIgnoringCase(coding, "identity") { identity = max(identity, q) }
                else if equalsIgnoringCase(coding, "*") { star = max(star, q) }
            }
        }

        /// The acceptable coding with the highest q-value, gzip before deflate
        /// before identity on ties.
        public var choice: ContentCoding {
            let gzip = self.gzip >= 0 ? self.gzip : max(star, 0)
            let deflate = self.deflate >= 0 ? self.deflate : max(star, 0)
            let identity = self.identity >= 0 ? self.identity : (star == 0 ? 0 : 1)   // identity's own default is "acceptable"
            if gzip > 0, gzip >= deflate, gzip >= identity { return .gzip }
            if deflate > 0, deflate >= identity { return .deflate }
            return .identity
        }
    }

    /// `0`, `0.5`, `1`, `1.000`: thousandths, or nil if malformed.
    static func parseQ(_ text: UnsafeRawBufferPointer) -> Int? {
        guard let first = text.first, first == 0x30 || first == 0x31 else { return nil }
        var value = Int(first - 0x30) * 1000
        if text.count == 1 { return value }
        guard text[1] == 0x2E, text.count <= 5 else { return nil }
        var scale = 100
        for c in text.dropFirst(2) {
            guard c >= 0x30, c <= 0x39 else { return nil }
            value += Int(c - 0x30) * scale
            scale /= 10
        }
        return value <= 1000 ? value : nil
    }
}
