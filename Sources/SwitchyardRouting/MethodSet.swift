/// A set of the standard HTTP methods, one bit each, so that a route's methods
/// and a request's method compare with one AND.
public struct MethodSet: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    // Computed and inlinable: each use is a constant, with no lazy-global check.
    @inlinable public static var get: MethodSet { MethodSet(rawValue: 1 << 0) }
    @inlinable public static var head: MethodSet { MethodSet(rawValue: 1 << 1) }
    @inlinable public static var post: MethodSet { MethodSet(rawValue: 1 << 2) }
    @inlinable public static var put: MethodSet { MethodSet(rawValue: 1 << 3) }
    @inlinable public static var delete: MethodSet { MethodSet(rawValue: 1 << 4) }
    @inlinable public static var patch: MethodSet { MethodSet(rawValue: 1 << 5) }
    @inlinable public static var options: MethodSet { MethodSet(rawValue: 1 << 6) }
    @inlinable public static var trace: MethodSet { MethodSet(rawValue: 1 << 7) }
    @inlinable public static var connect: MethodSet { MethodSet(rawValue: 1 << 8) }

    /// In the order `Allow` lists them.
    public static let all: [(MethodSet, String)] = [
        (.get, "GET"), (.head, "HEAD"), (.post, "POST"), (.put, "PUT"), (.delete, "DELETE"),
        (.patch, "PATCH"), (.options, "OPTIONS"), (.trace, "TRACE"), (.connect, "CONNECT"),
    ]

    /// The method named `name` (upper case, as on the wire), or nil.
    public init?(name: String) {
        guard let entry = MethodSet.all.first(where: { $0.1 == name }) else { return nil }
        self = entry.0
    }

    /// The methods these answer: a GET route answers HEAD too.
    @inlinable public var served: MethodSet { contains(.get) ? union(.head) : self }

    /// The names of the methods in the set, in `all`'s order: what `Allow`
    /// lists and what `switchyard routes` shows (both of `served`).
    public var names: [String] {
        MethodSet.all.filter { contains($0.0) }.map(\.1)
    }

    /// `GET, HEAD, POST`: the value of an `Allow` header.
    public var description: String { names.joined(separator: ", ") }
}
