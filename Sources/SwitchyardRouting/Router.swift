#if canImport(Glibc)
import Glibc
#endif

/// Up to 16 captured route parameters as byte ranges into the matched path.
/// Fixed size, so matching allocates nothing.
public struct RouteParameters {
    public static let capacity = 16
    private var ranges: (SIMD16<Int32>, SIMD16<Int32>) = (.zero, .zero)
    public private(set) var count = 0

    public init() {}

    public mutating func removeAll() { count = 0 }

    mutating func push(_ start: Int, _ end: Int) {
        precondition(count < Self.capacity)
        ranges.0[count] = Int32(start)
        ranges.1[count] = Int32(end)
        count += 1
    }

    mutating func pop() { count -= 1 }

    /// The i-th captured value as offsets into the path given to `match`.
    public subscript(i: Int) -> (start: Int, end: Int) {
        precondition(i < count)
        return (Int(ranges.0[i]), Int(ranges.1[i]))
    }
}

/// The outcome of matching a request path and method.
public enum RouteMatch: Equatable, Sendable {
    /// Index into the routes the router was built from.
    case found(route: Int)
    /// Some route matches the path, none the method; `allowed` is their union.
    case methodNotAllowed(allowed: MethodSet)
    case notFound
}

/// Routes compiled into a tree of segments kept in flat arrays and keyed by
/// bytes. Matching walks the tree most-specific first (literal, then
/// `{param}`, then `{rest...}`), backtracking when a branch fails, and
/// allocates nothing. Immutable after `init`; safe to share across threads.
/// The tables are plain memory, not arrays, so a match retains nothing.
public final class Router: @unchecked Sendable {
    public struct Route: Sendable {
        public var pattern: RoutePattern
        public var methods: MethodSet
        public init(pattern: RoutePattern, methods: MethodSet) { self.pattern = pattern; self.methods = methods }
    }

    struct Node: Sendable {
        var literals: Range<Int> = 0..<0      // into `edges`
        var parameter: Int = -1                // child node for {param}
        var terminal: Range<Int> = 0..<0       // into `routeLists`: routes ending here
        var rest: Range<Int> = 0..<0           // into `routeLists`: routes whose final {rest...} starts here
    }

    struct Edge: Sendable {
        var bytes: Range<Int>                  // into `literalBytes`
        var child: Int
    }

    private let nodes: UnsafeMutableBufferPointer<Node>
    private let edges: UnsafeMutableBufferPointer<Edge>
    private let literalBytes: UnsafeMutableBufferPointer<UInt8>
    private let routeLists: UnsafeMutableBufferPointer<Int>
    private let methods: UnsafeMutableBufferPointer<MethodSet>

    /// Compiles `routes`. Precondition: no two can be told apart (the config
    /// refuses such routes before they get here).
    public init(routes: [Route]) {
        // Build with per-node dictionaries first, then flatten.
        final class Builder {
            var literal: [[UInt8]: Builder] = [:]
            var literalOrder: [[UInt8]] = []
            var parameter: Builder?
            var terminal: [Int] = []
            var rest: [Int] = []
        }
        let root = Builder()
        for (index, route) in routes.enumerated() {
            var node = root
            for segment in route.pattern.segments {
                switch segment {
                case .literal(let bytes):
                    if let next = node.literal[bytes] { node = next } else {
                        let next = Builder()
                        node.literal[bytes] = next
                        node.literalOrder.append(bytes)
                        node = next
                    }
                case .parameter:
                    if node.parameter == nil { node.parameter = Builder() }
                    node = node.parameter!
                case .rest:
                    node.rest.append(index)
                }
            }
            if case .rest = route.pattern.segments.last {} else { node.terminal.append(index) }
        }
        var nodes: [Node] = []
        var edges: [Edge] = []
        var bytes: [UInt8] = []
        var lists: [Int] = []
        func flatten(_ builder: Builder) -> Int {
            let id = nodes.count
            let terminalStart = lists.count
            lists.append(contentsOf: builder.terminal)
            let restStart = lists.count
            lists.append(contentsOf: builder.rest)
            nodes.append(Node(terminal: terminalStart..<restStart, rest: restStart..<lists.count))
            var myEdges: [Edge] = []
            for key in builder.literalOrder {
                let keyBytes = bytes.count..<(bytes.count + key.count)
                bytes.append(contentsOf: key)
                // After the key: the child's subtree appends its own keys.
                myEdges.append(Edge(bytes: keyBytes, child: flatten(builder.literal[key]!)))
            }
            let edgeStart = edges.count
            edges.append(contentsOf: myEdges)
            nodes[id].literals = edgeStart..<edges.count
            if let parameter = builder.parameter { nodes[id].parameter = flatten(parameter) }
            return id
        }
        _ = flatten(root)
        self.nodes = Self.frozen(nodes)
        self.edges = Self.frozen(edges)
        self.literalBytes = Self.frozen(bytes)
        self.routeLists = Self.frozen(lists)
        self.methods = Self.frozen(routes.map(\.methods))
    }

    private static func frozen<T>(_ array: [T]) -> UnsafeMutableBufferPointer<T> {
        let memory = UnsafeMutableBufferPointer<T>.allocate(capacity: array.count)
        _ = memory.initialize(from: array)
        return memory
    }

    deinit {
        nodes.deallocate(); edges.deallocate(); literalBytes.deallocate(); routeLists.deallocate(); methods.deallocate()
    }

    /// Matches a percent-decoded path (starting with `/`, no query). `method`
    /// is one bit, or nil for a method the server does not know.
    public func match(path: UnsafeRawBufferPointer, method: MethodSet?, parameters: inout RouteParameters) -> RouteMatch {
        guard path.first == UInt8(ascii: "/") else { return .notFound }
        var allowed = MethodSet()
        let start = path.count == 1 ? 1 : 0   // "/" has no segments
        let found = Walk(nodes: UnsafeBufferPointer(nodes), edges: UnsafeBufferPointer(edges),
                         bytes: UnsafeBufferPointer(literalBytes), lists: UnsafeBufferPointer(routeLists),
                         methods: UnsafeBufferPointer(methods), path: path, method: method)
            .visit(0, start, &parameters, &allowed)
        if let found { return .found(route: found) }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed)
    }

    private struct Walk {
        let nodes: UnsafeBufferPointer<Node>
        let edges: UnsafeBufferPointer<Edge>
        let bytes: UnsafeBufferPointer<UInt8>
        let lists: UnsafeBufferPointer<Int>
        let methods: UnsafeBufferPointer<MethodSet>
        let path: UnsafeRawBufferPointer
        let method: MethodSet?

        /// `pos` is the end of the path or the index of the `/` before the next segment.
        func visit(_ id: Int, _ pos: Int, _ parameters: inout RouteParameters, _ allowed: inout MethodSet) -> Int? {
            let node = nodes[id]
            let end = path.count
            if pos >= end {
                if let r = pick(node.terminal, &allowed) { return r }
            } else {
                let segmentStart = pos + 1
                var segmentEnd = segmentStart
                while segmentEnd < end, path[segmentEnd] != UInt8(ascii: "/") { segmentEnd += 1 }
                let length = segmentEnd - segmentStart
                for e in node.literals {
                    let edge = edges[e]
                    if edge.bytes.count == length,
                       length == 0 || memcmp(path.baseAddress! + segmentStart, bytes.baseAddress! + edge.bytes.lowerBound, length) == 0 {
                        if let r = visit(edge.child, segmentEnd, &parameters, &allowed) { return r }
                        break
                    }
                }
                if node.parameter >= 0, length > 0 {
                    parameters.push(segmentStart, segmentEnd)
                    if let r = visit(node.parameter, segmentEnd, &parameters, &allowed) { return r }
                    parameters.pop()
                }
            }
            // `/static/{rest...}` matches `/static/` and below, not `/static`;
            // `/{rest...}` matches `/` too (its slash is the path's only byte).
            if !node.rest.isEmpty, pos < end || (id == 0 && end == 1) {
                parameters.push(min(pos + 1, end), end)
                if let r = pick(node.rest, &allowed) { return r }
                parameters.pop()
            }
            return nil
        }

        private func pick(_ routes: Range<Int>, _ allowed: inout MethodSet) -> Int? {
            for i in routes {
                let r = lists[i]
                let m = methods[r]
                if let method, m.served.contains(method) { return r }
                allowed.formUnion(m.served)
            }
            return nil
        }
    }
}
