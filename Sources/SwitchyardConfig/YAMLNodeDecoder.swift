import Yams

/// A mapping whose keys have been checked: each entry keeps its key node (for
/// "unknown key" and duplicate messages) and its value node (for type errors).
struct KeyedMapping {
    struct Entry {
        var key: String
        var keyNode: Node
        var value: Node
    }

    var node: Node
    var entries: [Entry]

    subscript(key: String) -> Entry? { entries.first { $0.key == key } }
}

/// `auto` or a number, for `event_loops` and pool sizes.
enum CountSetting: Equatable {
    case auto
    case fixed(Int)
}

/// The typed layer over Yams' node tree for one file: reads mappings, lists
/// and scalars as the config's types, and reports every mistake to the log at
/// the offending node's line and column instead of stopping.
///
/// Each accessor returns nil after logging an error, so callers keep their
/// default and carry on to find the next mistake.
struct YAMLNodeDecoder {
    /// The name diagnostics use for this file.
    let file: String
    let log: DiagnosticLog
    /// Where a key unknown in one section belongs instead.
    var placement = KeyPlacement()
    /// What the build refuses, so no message advises it.
    var build = BuildLimits.unlimited

    func location(_ node: Node) -> SourceLocation {
        let mark = node.mark
        return SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    func error(_ node: Node, _ message: String) { log.error(location(node), message) }
    func warning(_ node: Node, _ message: String) { log.warning(location(node), message) }

    /// How a message shows a node: `'abc'`, `42`, `a list`, `a mapping`.
    func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar): return YAMLScalar(scalar).description
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        case .alias: return "an alias"
        }
    }

    func isNull(_ node: Node) -> Bool {
        if case .scalar(let scalar) = node { return YAMLScalar(scalar) == .null }
        return false
    }

    // MARK: Mappings and lists

    /// The entries of a mapping (nothing counts as an empty one). Keys not in
    /// `keys` are reported, at the key, as `unknown key 'x' in CONTEXT; …`
    /// (with where the key belongs, when `place` says which section this is
    /// and another takes it) unless `unknownKey` handles them; they are left
    /// out of the result.
    func mapping(_ node: Node, _ context: String, keys: [String], place: KeyPlacement.Place? = nil,
                 unknownKey: ((String, Node) -> Void)? = nil) -> KeyedMapping? {
        if isNull(node) { return KeyedMapping(node: node, entries: []) }
        guard case .mapping(let mapping) = node else {
            let hint = if case .sequence = node { "; write its keys without '- '" } else { "" }
            error(node, "\(context) must be a mapping of keys (\(keys.joined(separator: ", "))); got \(describe(node))\(hint)")
            return nil
        }
        var entries: [KeyedMapping.Entry] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                error(keyNode, "keys in \(context) must be names; got \(describe(keyNode))")
                continue
            }
            let key = scalar.string
            if keys.contains(key) {
                entries.append(.init(key: key, keyNode: keyNode, value: value))
            } else if let unknownKey {
                unknownKey(key, keyNode)
            } else {
                let hint = place.map { placement.hint(for: key, in: $0, keys: keys) } ?? KeySuggestion.hint(for: key, in: keys)
                error(keyNode, "unknown key '\(key)' in \(context); expected one of: " + keys.joined(separator: ", ") + hint)
            }
        }
        return KeyedMapping(node: node, entries: entries)
    }

    /// The items of a list; nothing counts as an empty list. With
    /// `allowSingle`, a lone scalar counts as a list of one.
    func list(_ node: Node, _ what: String, of itemDescription: String, allowSingle: Bool = false) -> [Node]? {
        switch node {
        case .sequence(let sequence): return Array(sequence)
        case .scalar where isNull(node): return []
        case .scalar where allowSingle: return [node]
        default:
            error(node, "\(what) must be a list of \(itemDescription); got \(describe(node))")
            return nil
        }
    }

    // MARK: Scalars

    /// The text of any scalar that is not null, for values whose own parser
    /// checks them (addresses, paths, handler names).
    func text(_ node: Node, _ what: String, expected: String) -> String? {
        if case .scalar(let scalar) = node, YAMLScalar(scalar) != .null { return scalar.string }
        error(node, "\(what) must be \(expected); got \(describe(node))")
        return nil
    }

    /// A scalar that reads as a string (quote numbers and booleans to make
    /// them strings).
    func string(_ node: Node, _ what: String, allowEmpty: Bool = false) -> String? {
        if case .scalar(let scalar) = node, case .string(let value) = YAMLScalar(scalar) {
            if value.isEmpty, !allowEmpty {
                error(node, "\(what) must not be empty")
                return nil
            }
            return value
        }
        error(node, "\(what) must be a string; got \(describe(node))")
        return nil
    }

    func bool(_ node: Node, _ what: String) -> Bool? {
        if case .scalar(let scalar) = node, case .bool(let value) = YAMLScalar(scalar) { return value }
        error(node, "\(what) must be true or false; got \(describe(node))")
        return nil
    }

    /// An integer within `range`.
    func int(_ node: Node, _ what: String, range: ClosedRange<Int>) -> Int? {
        if case .scalar(let scalar) = node, case .int(let value) = YAMLScalar(scalar), range.contains(value) {
            return value
        }
        error(node, "\(what) must be \(Self.describe(range)); got \(describe(node))")
        return nil
    }

    /// `auto` or an integer within `range`.
    func count(_ node: Node, _ what: String, range: ClosedRange<Int>) -> CountSetting? {
        if case .scalar(let scalar) = node {
            switch YAMLScalar(scalar) {
            case .string("auto"): return .auto
            case .int(let value) where range.contains(value): return .fixed(value)
            default: break
            }
        }
        error(node, "\(what) must be \(Self.describe(range)) or auto; got \(describe(node))")
        return nil
    }

    static func describe(_ range: ClosedRange<Int>) -> String {
        if range.lowerBound == Int.min, range.upperBound == Int.max { return "an integer" }
        if range.upperBound == Int.max {
            switch range.lowerBound {
            case 1: return "a positive integer"
            case 0: return "an integer of 0 or more"
            default: return "an integer of \(range.lowerBound) or more"
            }
        }
        if range.lowerBound == 1, range.upperBound >= 1000 { return "a positive integer up to \(range.upperBound)" }
        return "an integer from \(range.lowerBound) to \(range.upperBound)"
    }
}
