/// A content coding the server can send (RFC 9110 §8.4.1).
public enum ContentCoding: UInt8, Sendable {
    case identity, gzip, deflate

    /// The `Content-Encoding` value.
    public var headerValue: StaticString {
        switch self {
        case .identity: return "identity"
        case .gzip: return "gzip"
        case .deflate: return "deflate"
        }
    }
}
