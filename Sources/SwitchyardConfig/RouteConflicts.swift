import SwitchyardRouting

/// Finds routes that no request could ever tell apart: the same shape of
/// path (equal literal segments, parameters and a final rest parameter in the
/// same places, whatever their names) with a method in common. A route
/// declared twice is the simplest case. HEAD counts as overlapping GET,
/// since a GET route answers HEAD too.
enum RouteConflicts {
    /// A path shape: what a request can tell, with parameter names erased.
    private enum ShapeSegment: Hashable {
        case literal([UInt8])
        case parameter
        case rest
    }

    /// Pairs `(earlier, later)` of indices into `routes`; each later route is
    /// paired with the first earlier one it clashes with.
    static func find(_ routes: [(pattern: RoutePattern, methods: MethodSet)]) -> [(Int, Int)] {
        var byShape: [[ShapeSegment]: [Int]] = [:]
        var result: [(Int, Int)] = []
        for (index, route) in routes.enumerated() {
            let shape = route.pattern.segments.map { segment -> ShapeSegment in
                switch segment {
                case .literal(let bytes): return .literal(bytes)
                case .parameter: return .parameter
                case .rest: return .rest
                }
            }
            let earlier = byShape[shape, default: []]
            if let first = earlier.first(where: { !overlap(routes[$0].methods, route.methods).isEmpty }) {
                result.append((first, index))
            }
            byShape[shape, default: []].append(index)
        }
        return result
    }

    /// The methods both sets answer, reading GET as GET and HEAD.
    static func overlap(_ a: MethodSet, _ b: MethodSet) -> MethodSet {
        a.served.intersection(b.served)
    }

    /// The error for route `path` (with `methods`) that `other`, declared
    /// earlier, cannot be told apart from: which methods clash, and what to
    /// change.
    static func message(path: String, methods: MethodSet,
                        other: (path: String, methods: MethodSet, location: SourceLocation)) -> String {
        let common = overlap(methods, other.methods)
        var why = "both answer \(MethodSetNames.list(common)) on the same path"
        var notes: [String] = []
        if path != other.path {
            // Paths differ in spelling only: by a parameter's name or by %-escapes.
            notes.append(path.contains("{") ? "parameter names do not count" : "%-escapes are decoded before matching")
        }
        if methods.intersection(other.methods).isEmpty { notes.append("a GET route answers HEAD too") }
        if !notes.isEmpty { why += " (" + notes.joined(separator: "; ") + ")" }
        let them = path == other.path ? "the one" : other.path
        return "route \(path) can never be told apart from \(them) at \(other.location): \(why); "
            + "give one a different path or different methods"
    }
}
