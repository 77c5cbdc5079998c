import SwitchyardRouting
import Yams

/// One `routes:` entry as read, before the whole config is known to be
/// valid. Fields a mistake left unset stay nil; `spec` is the finished route
/// when nothing about this entry was wrong.
struct RouteDraft {
    var location: SourceLocation
    var path: String?
    var pattern: RoutePattern?
    var methods: MethodSet = [.get, .head]
    var spec: RouteSpec?
    /// Whether the entry itself had an error (another route's clash with it
    /// is found later and sets this too).
    var hasError = false
    /// Its mode warnings, logged only once the whole config is read and the
    /// route is known to have no error: a route with an error gets no warning
    /// beside it.
    var warnings: [Diagnostic] = []
}

/// Reads `routes:` entries of one file: path, methods, handler (checked
/// against the catalog and `plugins:`), mode (resolved by the contract's
/// table, with its warnings), pool, timeout, allow, options, compression.
struct RouteDecoder {
    static let keys = [
        "path", "methods", "handler", "mode", "sync_to_thread", "pool",
        "timeout_ms", "allow", "options", "compression",
    ]

    let decoder: YAMLNodeDecoder
    let catalog: HandlerCatalog
    /// Every plugin declared in any file.
    let pluginNames: Set<String>
    let threadPoolNames: Set<String>
    /// The config's `default_mode`, for routes whose sync handler declares none.
    let defaultMode: ExecutionMode?
    let environment: [String: String]

    func routes(_ node: Node) -> [RouteDraft] {
        if case .mapping = node {
            // `routes:` followed by keys with no `- `: one route, unlisted.
            decoder.error(node, "routes must be a list of route mappings; got a mapping; "
                          + "start each route with '- ', e.g. - path: /hello")
            return []
        }
        guard let items = decoder.list(node, "routes", of: "route mappings") else { return [] }
        return items.compactMap(route)
    }

    func route(_ node: Node) -> RouteDraft? {
        let d = decoder
        var label = "route"
        if case .mapping(let mapping) = node, case .scalar(let path)? = mapping["path"] {
            label = "route \(path.string)"
        }
        let errorsBefore = d.log.errorCount
        // An option key written beside `options:` is hinted there only if
        // this route's handler takes it (any handler's, when it names none we know).
        var placement = d.placement
        if case .mapping(let mapping) = node, case .scalar(let handler)? = mapping["handler"],
           let entry = catalog.entries[handler.string] {
            placement.optionNames = Set(entry.options.keys)
        }
        guard let mapping = d.mapping(node, label, keys: Self.keys, unknownKey: { key, keyNode in
            if key == "default_mode" {
                d.error(keyNode, "default_mode is a top-level key; a route declares its own mode with mode:")
            } else {
                d.error(keyNode, "unknown key '\(key)' in \(label); expected one of: "
                        + Self.keys.joined(separator: ", ") + placement.hint(for: key, in: .route, keys: Self.keys))
            }
        }) else { return nil }
        var draft = RouteDraft(location: d.location(node))

        // path
        if let entry = mapping["path"] {
            if let text = d.text(entry.value, "path of \(label)", expected: "a path such as /hello or /users/{id}") {
                draft.path = text
                do {
                    draft.pattern = try RoutePattern(parsing: text)
                } catch {
                    d.log.error(patternErrorLocation(entry.value, text: text, offset: error.offset),
                                "bad route path '\(text)': \(error.message)")
                }
            }
        } else {
            d.error(node, "route needs a path, e.g. path: /hello")
        }
        let name = draft.path ?? "?"

        // methods
        if let entry = mapping["methods"] {
            draft.methods = methods(entry.value, label: label) ?? draft.methods
        }

        // handler
        var handler: String?, handlerEntry: HandlerCatalog.Entry?
        if let entry = mapping["handler"] {
            if let text = d.text(entry.value, "handler of \(label)", expected: "PLUGIN.FUNCTION, e.g. builtin.text") {
                handler = text
                handlerEntry = lookUp(handler: text, node: entry.value)
            }
        } else {
            d.error(node, "\(label) needs a handler, e.g. handler: builtin.text")
        }

        // mode and its synonym
        let (declared, declaredAs, modeNode) = modeDeclaration(mapping, label: label)

        // pool: the name is checked here, whether it applies once the mode is known
        var poolName: String?, poolNode: Node?
        if let entry = mapping["pool"], let text = d.string(entry.value, "pool of \(label)") {
            if text == YAMLNodeDecoder.defaultPoolName {
                poolNode = entry.value   // the shared thread_pool, by its name
            } else if !threadPoolNames.contains(text) {
                let names = threadPoolNames.sorted()
                d.error(entry.value, names.isEmpty
                    ? "unknown thread pool '\(text)'; define it under thread_pools: (or leave pool out for thread_pool)"
                    : "unknown thread pool '\(text)'; thread_pools defines: " + names.joined(separator: ", ")
                        + KeySuggestion.hint(for: text, in: names))
            } else {
                poolName = text; poolNode = entry.value
            }
        }

        var timeoutMs: Int?
        if let entry = mapping["timeout_ms"] {
            timeoutMs = d.int(entry.value, "timeout_ms of \(label)", range: 1...Int(Int32.max))
        }

        var allow: [NetworkPrefix] = []
        if let entry = mapping["allow"] {
            allow = networks(entry.value, label: label)
        }

        var compression = true
        if let entry = mapping["compression"] {
            compression = d.bool(entry.value, "compression of \(label)") ?? true
        }

        // Options are checked against the handler's entry; with no known
        // handler there is nothing to check them against.
        var options: [String: OptionValue] = [:]
        if let entry = mapping["options"], let handler, let handlerEntry {
            options = d.options(entry.value, handler: handler, entry: handlerEntry) ?? [:]
        }

        // mode resolution; default_mode stands in for a sync handler's missing declaration
        var warnings: [Diagnostic] = []
        var effective: ExecutionMode?
        let kind = handlerEntry?.kind
        let defaultApplied = declared == nil && kind == .sync ? defaultMode : nil
        let build = d.build
        if let declared, !build.runs(declared) {
            // Refused before the table: whatever it would resolve to, the file asks for what this build lacks.
            d.error(modeNode ?? node, build.modeRefusal(path: name, mode: declared, declaredAs: declaredAs))
        } else if let handler, let kind {
            switch ModeResolution.resolve(declared: declared ?? defaultApplied, kind: kind) {
            case .mismatch:
                d.error(modeNode ?? node, ModeResolution.mismatchMessage(
                    path: name, handler: handler, kind: kind, declaredAs: declaredAs ?? "", declared: declared ?? .sync,
                    build: build))
            case .runs(let mode, _) where !build.runs(mode):
                // A refused default_mode is reported once, where it is set.
                if defaultApplied == nil {
                    d.error(modeNode ?? mapping["handler"]?.value ?? node, build.modeRefusal(path: name, mode: mode))
                }
            case .runs(let mode, let warning):
                effective = mode
                if let warning, warning.isEnabled(in: environment) {
                    let at: Node = warning == .implicitSync ? (mapping["handler"]?.value ?? node) : (modeNode ?? node)
                    warnings.append(Diagnostic(.warning, d.location(at), ModeResolution.message(
                        for: warning, path: name, handler: handler, declaredAs: declaredAs, build: build)))
                }
            }
        }

        // pool applies to thread mode, declared or by default_mode
        var pool: String?
        if let poolNode {
            if let problem = poolProblem(declared: declared, declaredAs: declaredAs, kind: kind, handler: handler, label: label) {
                d.error(poolNode, problem)
            } else if effective == .thread {
                pool = poolName
            }
        }

        draft.hasError = d.log.errorCount != errorsBefore
        draft.warnings = warnings
        if !draft.hasError, let path = draft.path, let pattern = draft.pattern,
           let handler, let kind = handlerEntry?.kind, let effective {
            draft.spec = RouteSpec(
                path: path, pattern: pattern, methods: draft.methods, handler: handler, handlerKind: kind,
                declaredMode: declared, effectiveMode: effective, pool: pool, timeoutMs: timeoutMs,
                allow: allow, compression: compression, options: options, warnings: warnings,
                location: draft.location, defaultModeApplied: defaultApplied != nil)
        }
        return draft
    }

    // MARK: Parts

    /// Why `pool:` does not apply to a route, or nil when it does: its mode,
    /// declared or taken from `default_mode`, must be thread. With the
    /// handler unknown (an error already) a default cannot be judged.
    func poolProblem(declared: ExecutionMode?, declaredAs: String?, kind: HandlerKind?,
                     handler: String?, label: String) -> String? {
        let prefix = "pool applies only to mode: thread; \(label) "
        if let declared {
            return declared == .thread ? nil : prefix + "declares " + (declaredAs ?? "mode: \(declared.rawValue)")
        }
        switch (defaultMode, kind) {
        case (.thread?, .sync?), (.thread?, nil):
            return nil
        case (.thread?, .async?):
            return prefix + "declares no mode, and default_mode applies to sync handlers only: "
                + "async handler \(handler ?? "?") runs on the event loop"
        case (let mode?, _):
            return prefix + "declares no mode and default_mode is \(mode.rawValue)"
        case (nil, _):
            return prefix + "declares no mode"
        }
    }

    /// What `mode:` (or its synonym `sync_to_thread:`) declares, how the file
    /// wrote it (for messages), and the node that said it.
    func modeDeclaration(_ mapping: KeyedMapping, label: String) -> (ExecutionMode?, String?, Node?) {
        let d = decoder
        var declared: ExecutionMode?, declaredAs: String?, modeNode: Node?
        if let entry = mapping["mode"], let text = d.text(entry.value, "mode of \(label)", expected: "sync, async, thread or process") {
            if let mode = ExecutionMode(rawValue: text) {
                declared = mode; declaredAs = "mode: \(text)"; modeNode = entry.value
            } else {
                let modes = d.build.runnable(ExecutionMode.allCases).map(\.rawValue)
                d.error(entry.value, "unknown mode '\(text)' in \(label); expected one of: "
                        + modes.joined(separator: ", ") + KeySuggestion.hint(for: text, in: modes))
            }
        }
        if let entry = mapping["sync_to_thread"], let flag = d.bool(entry.value, "sync_to_thread of \(label)") {
            let synonym: ExecutionMode = flag ? .thread : .sync
            if let declared, declared != synonym {
                d.error(entry.value, "sync_to_thread: \(flag) means mode: \(synonym.rawValue), "
                        + "which disagrees with mode: \(declared.rawValue); give one of them")
            } else if declared == nil {
                declared = synonym; declaredAs = "sync_to_thread: \(flag)"; modeNode = entry.value
            }
        }
        return (declared, declaredAs, modeNode)
    }

    /// Where a `RoutePattern` parse error points: the value's column plus
    /// the offending character's place (and one for an opening quote). A
    /// block scalar (`|`, `>`) starts on another line: point at its start.
    func patternErrorLocation(_ node: Node, text: String, offset: Int) -> SourceLocation {
        var location = decoder.location(node)
        if case .scalar(let scalar) = node, scalar.style == .literal || scalar.style == .folded { return location }
        let prefix = String(decoding: Array(text.utf8).prefix(offset), as: UTF8.self)
        location.column += prefix.unicodeScalars.count
        if case .scalar(let scalar) = node, scalar.style == .singleQuoted || scalar.style == .doubleQuoted {
            location.column += 1
        }
        return location
    }

    func methods(_ node: Node, label: String) -> MethodSet? {
        guard let items = decoder.list(node, "methods of \(label)", of: "HTTP methods", allowSingle: true) else { return nil }
        guard !items.isEmpty else {
            decoder.error(node, "methods of \(label) must list at least one method")
            return nil
        }
        var set: MethodSet = []
        var ok = true
        let names = MethodSet.all.map(\.1)
        for item in items {
            guard let text = decoder.text(item, "each method of \(label)", expected: "an HTTP method such as GET") else {
                ok = false; continue
            }
            if let method = MethodSet(name: text.uppercased()) {
                set.insert(method)
            } else {
                decoder.error(item, "unknown method '\(text)' in \(label); expected one of: "
                              + names.joined(separator: ", ") + KeySuggestion.hint(for: text.uppercased(), in: names))
                ok = false
            }
        }
        return ok ? set : nil
    }

    func networks(_ node: Node, label: String) -> [NetworkPrefix] {
        guard let items = decoder.list(node, "allow of \(label)", of: "addresses or networks", allowSingle: true) else { return [] }
        var result: [NetworkPrefix] = []
        for item in items {
            guard let text = decoder.text(item, "each allow entry of \(label)", expected: "an address or a network such as 127.0.0.0/8") else { continue }
            do {
                result.append(try NetworkPrefix(parsing: text))
            } catch {
                decoder.error(item, "bad allow entry in \(label): \(error.message)")
            }
        }
        return result
    }

    /// The catalog entry of `handler`, or nil after logging why there is none.
    func lookUp(handler: String, node: Node) -> HandlerCatalog.Entry? {
        if let entry = catalog.entries[handler] { return entry }
        let parts = handler.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, YAMLNodeDecoder.isName(String(parts[0])), YAMLNodeDecoder.isName(String(parts[1])) else {
            decoder.error(node, "handler '\(handler)' must be PLUGIN.FUNCTION, e.g. builtin.text")
            return nil
        }
        let plugin = String(parts[0])
        if plugin == "builtin" {
            let builtins = catalog.entries.keys.filter { $0.hasPrefix("builtin.") }.sorted()
            let short = builtins.map { String($0.dropFirst("builtin.".count)) }
            decoder.error(node, "unknown handler '\(handler)'; builtin has: " + short.joined(separator: ", ")
                          + KeySuggestion.hint(for: handler, in: builtins))
        } else if pluginNames.contains(plugin) {
            // The config layer knows only the catalog's handlers; a plugin's are not known until it is loaded.
            decoder.error(node, "handler '\(handler)' is in plugin '\(plugin)', whose handlers cannot be used: "
                          + "loading shared-library plugins is not supported yet")
        } else {
            decoder.error(node, "unknown plugin '\(plugin)' in handler '\(handler)'; declare it under plugins: "
                          + "or use a builtin.* handler")
        }
        return nil
    }
}
