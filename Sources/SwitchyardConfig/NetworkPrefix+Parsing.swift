extension NetworkPrefix {
    /// Reads `127.0.0.0/8`, `10.1.2.3`, `::1`, `fd00::/8`. IPv4 is stored as
    /// an IPv4-mapped IPv6 address with 96 added to its prefix length. Bits
    /// past the prefix are cleared, so `192.168.1.7/24` means 192.168.1.0/24.
    init(parsing text: String) throws(ValueError) {
        let expected = "expected an address or a network such as 127.0.0.0/8 or ::1"
        var addressText = Substring(text), lengthText: Substring?
        if let slash = text.firstIndex(of: "/") {
            addressText = text[..<slash]
            lengthText = text[text.index(after: slash)...]
        }
        var address: [UInt8], maxLength: Int, offset: Int
        if let v4 = IPAddressText.ipv4(String(addressText)) {
            address = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] + v4
            maxLength = 32; offset = 96
        } else if let v6 = IPAddressText.ipv6(String(addressText)) {
            address = v6
            maxLength = 128; offset = 0
        } else {
            throw ValueError("'\(text)' is not a valid address; \(expected)")
        }
        var length = maxLength
        if let lengthText {
            guard !lengthText.isEmpty, lengthText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                  let value = Int(lengthText), value <= maxLength else {
                throw ValueError("'\(text)' has prefix length '\(lengthText)'; expected 0 to \(maxLength)")
            }
            length = value
        }
        let total = length + offset
        for i in 0..<16 {
            let bitsHere = max(0, min(8, total - i * 8))
            let mask: UInt8 = bitsHere == 8 ? 0xff : ~(0xff >> UInt8(bitsHere))
            address[i] &= mask
        }
        self.init(address: address, prefixLength: total, text: text)
    }
}
