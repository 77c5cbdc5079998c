extension ListenAddress {
    /// Longest `unix:` path the kernel takes (`sun_path` less its NUL).
    static let maxUnixPathBytes = 107

    /// Reads `127.0.0.1:8080`, `0.0.0.0:80`, `[::1]:8080`, `[::]:8080`,
    /// `localhost:8080` (as 127.0.0.1) or `unix:/path`. Port 0 means any
    /// free port. Addresses are kept in canonical text form.
    init(parsing text: String) throws(ValueError) {
        let expected = "expected host:port, [v6]:port or unix:/path"
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { throw ValueError("listen address 'unix:' has no path; \(expected)") }
            guard path.utf8.count <= Self.maxUnixPathBytes else {
                throw ValueError("unix socket path is \(path.utf8.count) bytes; at most \(Self.maxUnixPathBytes) fit")
            }
            self = .unix(path: path)
            return
        }
        let host: Substring, portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw ValueError("listen address '\(text)' has no closing ']'; \(expected)")
            }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else {
                throw ValueError("listen address '\(text)' has no port; \(expected)")
            }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ValueError("listen address '\(text)' has no port; \(expected)")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") {
                throw ValueError("listen address '\(text)': write IPv6 addresses in brackets, e.g. [::1]:8080")
            }
        }
        guard portText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let port = Int(portText), port <= 65535 else {
            throw ValueError("listen address '\(text)' has port '\(portText)'; expected 0 to 65535 (0 picks any free port)")
        }
        if text.hasPrefix("[") {
            guard let bytes = IPAddressText.ipv6(String(host)) else {
                throw ValueError("listen address '\(text)': '\(host)' is not an IPv6 address")
            }
            self = .ipv6(host: IPAddressText.format(bytes), port: UInt16(port))
        } else if host == "localhost" {
            self = .ipv4(host: "127.0.0.1", port: UInt16(port))
        } else if let bytes = IPAddressText.ipv4(String(host)) {
            self = .ipv4(host: IPAddressText.format(bytes), port: UInt16(port))
        } else if host.isEmpty {
            throw ValueError("listen address '\(text)' has no host; use 0.0.0.0:\(port) for every IPv4 address or [::]:\(port) for every IPv6 one")
        } else {
            throw ValueError("listen address '\(text)': '\(host)' is not an IPv4 address; host names other than localhost are not resolved")
        }
    }

    /// The port, or nil for a unix socket.
    var port: UInt16? {
        switch self {
        case .ipv4(_, let port), .ipv6(_, let port): return port
        case .unix: return nil
        }
    }
}
