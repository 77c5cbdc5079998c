/// A byte range inside the buffer a request was parsed from.
public struct ByteRange: Sendable, Hashable {
    public var start: Int32
    public var end: Int32

    @inlinable public init(_ start: Int, _ end: Int) {
        self.start = Int32(truncatingIfNeeded: start); self.end = Int32(truncatingIfNeeded: end)
    }

    public static let empty = ByteRange(0, 0)
    @inlinable public var count: Int { Int(end - start) }
    @inlinable public var isEmpty: Bool { end == start }

    /// The bytes of this range in `buffer`.
    @inlinable public func bytes(in buffer: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[Int(start)..<Int(end)])
    }
}

/// The methods the server knows by name; anything else is `.other` (501).
public enum HTTPMethod: UInt8, Sendable {
    case get, head, post, put, delete, patch, options, trace, connect, other
}

/// How the request body is framed.
public enum BodyFraming: Sendable, Hashable {
    case none
    case contentLength(Int)
    case chunked
}

/// One header line: offsets of its name and its value (without surrounding
/// whitespace) in the parsed buffer.
public struct HeaderField: Sendable, Hashable {
    public var name: ByteRange
    public var value: ByteRange
    @inlinable public init(name: ByteRange, value: ByteRange) { self.name = name; self.value = value }
}

/// A parsed request head. Every range points into the buffer given to the
/// parser; nothing here owns memory.
public struct RequestHead: Sendable, Equatable {
    public var method: HTTPMethod = .other
    public var methodRange: ByteRange = .empty
    /// The request target as sent (origin-form or absolute-form).
    public var target: ByteRange = .empty
    /// Path part of the target, still percent-encoded (absolute-form's scheme
    /// and authority skipped).
    public var path: ByteRange = .empty
    /// The path holds no '%' and no '.': it needs no decoding and has no dot segment.
    public var pathIsPlain = false
    /// After `?`, without it; empty if none.
    public var query: ByteRange = .empty
    public var hasQuery = false
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var versionMinor: UInt8 = 1
    /// Bytes of the head, including the blank line that ends it.
    public var headLength = 0
    public var framing: BodyFraming = .none
    /// After the version's default and any `Connection` header.
    public var keepAlive = true
    public var expectContinue = false
    public var host: ByteRange = .empty
    /// The first Accept-Encoding line; `acceptEncodingRepeated` when more
    /// follow, whose lists combine with it (RFC 9110 §5.3).
    public var acceptEncoding: ByteRange = .empty
    public var hasAcceptEncoding = false
    public var acceptEncodingRepeated = false
    /// The first If-None-Match line, likewise.
    public var ifNoneMatch: ByteRange = .empty
    public var hasIfNoneMatch = false
    public var ifNoneMatchRepeated = false

    @inlinable public init() {}
}

/// Why a request was refused; `status` is what the server answers before it
/// closes the connection.
public enum RequestError: Error, Sendable, Hashable {
    /// 400, with a short reason for the log and the response body.
    case badRequest(StaticReason)
    /// 414
    case targetTooLong
    /// 431
    case headerTooLarge
    /// 413
    case bodyTooLarge
    /// 501: a transfer coding other than a final `chunked`.
    case unsupportedTransferCoding
    /// 501: a method the server does not know.
    case methodNotImplemented
    /// 505
    case versionNotSupported
    /// 417: an `Expect` other than `100-continue`, which the server cannot meet.
    case expectationFailed
    /// 408
    case headerTimeout
    case bodyTimeout
    /// 408: the body came slower than `min_data_rate_bytes_per_s`.
    case bodyTooSlow

    public var status: Int {
        switch self {
        case .badRequest: return 400
        case .targetTooLong: return 414
        case .headerTooLarge: return 431
        case .bodyTooLarge: return 413
        case .unsupportedTransferCoding, .methodNotImplemented: return 501
        case .versionNotSupported: return 505
        case .expectationFailed: return 417
        case .headerTimeout, .bodyTimeout, .bodyTooSlow: return 408
        }
    }

    public var reason: String {
        switch self {
        case .badRequest(let r): return r.text
        case .targetTooLong: return "request target too long"
        case .headerTooLarge: return "header section too large"
        case .bodyTooLarge: return "request body too large"
        case .unsupportedTransferCoding: return "unsupported transfer coding"
        case .methodNotImplemented: return "method not implemented"
        case .versionNotSupported: return "HTTP version not supported"
        case .expectationFailed: return "only Expect: 100-continue is supported"
        case .headerTimeout: return "request head not complete in time"
        case .bodyTimeout: return "request body not complete in time"
        case .bodyTooSlow: return "request body arrived slower than the minimum data rate"
        }
    }
}

/// A 400's reason, named so tests can tell the smuggling defences apart.
public enum StaticReason: String, Sendable, Hashable {
    case malformedRequestLine = "malformed request line"
    case invalidMethod = "invalid method token"
    case invalidTarget = "invalid request target"
    case invalidVersion = "malformed HTTP version"
    case invalidHeaderName = "invalid header name"
    case invalidHeaderValue = "invalid header value"
    case whitespaceBeforeColon = "whitespace before colon"
    case obsoleteLineFolding = "obsolete line folding"
    case bareCR = "bare CR"
    case bareLF = "bare LF"
    case missingHost = "missing Host header"
    case duplicateHost = "more than one Host header"
    case invalidContentLength = "invalid Content-Length"
    case conflictingContentLength = "conflicting Content-Length headers"
    case contentLengthWithTransferEncoding = "Content-Length with Transfer-Encoding"
    case chunkedNotFinal = "chunked is not the final transfer coding"
    case transferEncodingOnHTTP10 = "Transfer-Encoding in HTTP/1.0"
    case invalidChunkSize = "invalid chunk size"
    case invalidChunkFraming = "invalid chunk framing"
    case chunkLineTooLong = "chunk size line too long"
    case invalidChunkExtension = "invalid chunk extension"
    case invalidPercentEncoding = "invalid percent-encoding in path"
    case encodedSlash = "encoded slash in path"
    case dotSegment = "dot segment in path"
    case tooManyHeaders = "too many header fields"

    public var text: String { rawValue }
}
