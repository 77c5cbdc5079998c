import SwitchyardHTTP

/// A route path such as `/users/{id}/files/{rest...}`, split into segments.
///
/// Literal segments match exactly (bytes, after percent-decoding of the request
/// path); `{name}` matches one non-empty segment; a final `{name...}` matches
/// the rest of the path, possibly empty.
public struct RoutePattern: Sendable, Hashable, CustomStringConvertible {
    public enum Segment: Sendable, Hashable {
        case literal([UInt8])
        case parameter(String)
        case rest(String)
    }

    public var segments: [Segment]
    public var text: String

    /// Parameter names in order, as route handlers see them.
    public var parameterNames: [String] {
        segments.compactMap {
            switch $0 {
            case .literal: return nil
            case .parameter(let name), .rest(let name): return name
            }
        }
    }

    /// A pattern that cannot be parsed; `offset` is the 0-based UTF-8 offset in
    /// the text where the problem is, so the config can point at a column.
    public struct ParseError: Error, Sendable, Hashable {
        public var offset: Int
        public var message: String
    }

    public init(parsing text: String) throws(ParseError) {
        let bytes = Array(text.utf8)
        guard bytes.first == UInt8(ascii: "/") else {
            throw ParseError(offset: 0, message: "a route path must start with '/'")
        }
        var segments: [Segment] = []
        var names: Set<String> = []
        var start = 1
        // "/" alone is the root, with no segments; "/a/" ends in an empty literal.
        while bytes.count > 1, start <= bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "/") { end += 1 }
            let piece = bytes[start..<end]
            if piece.first == UInt8(ascii: "{") {
                guard piece.last == UInt8(ascii: "}"), piece.count >= 3 else {
                    throw ParseError(offset: start, message: "a parameter segment is written {name} or {name...}")
                }
                var name = String(decoding: piece.dropFirst().dropLast(), as: UTF8.self)
                let isRest = name.hasSuffix("...")
                if isRest { name.removeLast(3) }
                guard !name.isEmpty, name.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || ($0 >= 48 && $0 <= 57) || ($0 | 0x20 >= 97 && $0 | 0x20 <= 122) }) else {
                    throw ParseError(offset: start + 1, message: "parameter names use letters, digits and '_'")
                }
                guard names.insert(name).inserted else {
                    throw ParseError(offset: start + 1, message: "parameter '\(name)' appears twice")
                }
                guard names.count <= 16 else {
                    throw ParseError(offset: start, message: "a route has at most 16 parameters")
                }
                if isRest {
                    guard end == bytes.count else {
                        throw ParseError(offset: start, message: "{\(name)...} must be the last segment")
                    }
                    segments.append(.rest(name))
                } else {
                    segments.append(.parameter(name))
                }
            } else {
                if let brace = piece.firstIndex(where: { $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "}") }) {
                    throw ParseError(offset: brace, message: "a parameter must be a whole segment")
                }
                if piece.isEmpty, end < bytes.count {
                    throw ParseError(offset: start, message: "empty segment ('//') in route path")
                }
                if let bad = piece.firstIndex(where: { $0 <= 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) {
                    throw ParseError(offset: bad, message: "a route path holds no spaces, control characters, '?' or '#' (queries are not routed)")
                }
                // Requests are matched after percent-decoding, so literals are decoded too.
                segments.append(.literal(try Self.decoded(piece)))
            }
            start = end + 1
        }
        self.segments = segments
        self.text = text
    }

    public var description: String { text }

    /// A literal segment decoded as request paths are, so the two compare byte for byte.
    private static func decoded(_ piece: ArraySlice<UInt8>) throws(ParseError) -> [UInt8] {
        guard let percent = piece.firstIndex(of: UInt8(ascii: "%")) else { return Array(piece) }
        var out = ByteBuffer()
        defer { out.release() }
        let refusal = piece.withUnsafeBytes { PercentDecoding.decodePath($0, into: &out) }
        if let refusal {
            throw ParseError(offset: percent, message: "\(refusal.text) (requests with it are refused, so no route can match)")
        }
        return Array(out.readable)
    }
}
