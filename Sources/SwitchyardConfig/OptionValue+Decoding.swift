import Yams

extension YAMLNodeDecoder {
    /// A route's `options:` checked against its handler's catalog entry: every
    /// option must be one the handler takes, with a value of its type.
    func options(_ node: Node, handler: String, entry: HandlerCatalog.Entry) -> [String: OptionValue]? {
        let names = entry.options.keys.sorted()
        guard let mapping = mapping(node, "options of \(handler)", keys: names, unknownKey: { key, keyNode in
            // Another handler's option is no misplacement: only keys of other sections are.
            let placed = self.placement.optionNames.contains(key) ? nil : self.placement.hint(for: key, in: .options)
            if names.isEmpty {
                self.error(keyNode, "unknown option '\(key)': \(handler) takes no options" + (placed ?? ""))
            } else {
                self.error(keyNode, "unknown option '\(key)' for \(handler); expected one of: "
                           + names.joined(separator: ", ") + (placed ?? KeySuggestion.hint(for: key, in: names)))
            }
        }) else { return nil }
        var result: [String: OptionValue] = [:]
        var ok = true
        for item in mapping.entries {
            guard let type = entry.options[item.key] else { continue }
            if let value = optionValue(item.value, type: type, what: "option '\(item.key)' of \(handler)") {
                result[item.key] = value
            } else {
                ok = false
            }
        }
        guard ok else { return nil }
        if let (option, message) = entry.check?(result) {
            let at = mapping.entries.first { $0.key == option }?.value ?? node
            error(at, "option '\(option)' of \(handler): \(message)")
            return nil
        }
        return result
    }

    /// One option's value as `type` asks, or nil after logging why not.
    func optionValue(_ node: Node, type: HandlerCatalog.Entry.OptionType, what: String) -> OptionValue? {
        switch type {
        case .string:
            return string(node, what, allowEmpty: true).map(OptionValue.string)
        case .headerValue:
            guard let value = string(node, what) else { return nil }
            if value.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
                error(node, "\(what) goes into a header: no control characters (CR, LF, …)")
                return nil
            }
            return .string(value)
        case .int(let range):
            return int(node, what, range: range).map(OptionValue.int)
        case .bool:
            return bool(node, what).map(OptionValue.bool)
        case .stringList:
            guard let items = list(node, what, of: "strings", allowSingle: true) else { return nil }
            var values: [OptionValue] = []
            for item in items {
                guard let value = string(item, "each item of \(what)", allowEmpty: true) else { return nil }
                values.append(.string(value))
            }
            return .list(values)
        case .any:
            return anyValue(node, what: what)
        }
    }

    /// Any YAML value as an `OptionValue`; null is not a value.
    func anyValue(_ node: Node, what: String) -> OptionValue? {
        switch node {
        case .scalar(let scalar):
            switch YAMLScalar(scalar) {
            case .null:
                error(node, "\(what) has no value")
                return nil
            case .bool(let value): return .bool(value)
            case .int(let value): return .int(value)
            case .double(let value): return .double(value)
            case .string(let value): return .string(value)
            }
        case .sequence(let sequence):
            var values: [OptionValue] = []
            for item in sequence {
                guard let value = anyValue(item, what: what) else { return nil }
                values.append(value)
            }
            return .list(values)
        case .mapping(let mapping):
            var values: [String: OptionValue] = [:]
            for (key, value) in mapping {
                guard case .scalar(let keyScalar) = key else {
                    error(key, "keys in \(what) must be names; got \(describe(key))")
                    return nil
                }
                guard let decoded = anyValue(value, what: what) else { return nil }
                values[keyScalar.string] = decoded
            }
            return .map(values)
        case .alias:
            error(node, "\(what): aliases are not supported")
            return nil
        }
    }
}
