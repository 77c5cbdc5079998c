import Yams

/// Decoders for the top-level sections other than `include:` and `routes:`.
/// Each starts from the defaults and changes only what the file sets.
extension YAMLNodeDecoder {
    static let topLevelKeys = [
        "listen", "event_loops", "limits", "control", "reload_on_change", "log_level", "access_log", "default_mode",
        "compression", "thread_pool", "thread_pools", "process_pool", "include", "plugins", "routes",
    ]

    /// `access_log:` — `off` (or false), `stderr`, a file path, or
    /// `{ to: stderr | PATH, sample: N }`. A relative path is taken from
    /// `baseDirectory` (the config file's), as include patterns are.
    func accessLog(_ node: Node, baseDirectory: String?) -> AccessLogSettings {
        var destinationLocation: SourceLocation?
        func destination(_ node: Node, _ what: String) -> AccessLogSettings.Destination? {
            if case .scalar(let scalar) = node, case .bool(false) = YAMLScalar(scalar) { return .off }
            guard let text = string(node, what) else { return nil }
            if text == "stderr" { return .stderr }
            if text == "stdout" || text == "journal" || text == "syslog" {
                error(node, "\(what) '\(text)' is not a destination; use stderr (journald keeps it under systemd) or a file path")
                return nil
            }
            destinationLocation = location(node)
            guard let directory = baseDirectory, !directory.isEmpty, !text.hasPrefix("/") else { return .file(text) }
            return .file(directory.hasSuffix("/") ? directory + text : directory + "/" + text)
        }
        if case .mapping = node {
            var settings = AccessLogSettings(destination: .stderr)
            guard let mapping = mapping(node, "access_log", keys: KeyPlacement.accessLogKeys, place: .accessLog) else { return settings }
            for entry in mapping.entries {
                switch entry.key {
                case "to": settings.destination = destination(entry.value, "access_log.to") ?? settings.destination
                default: settings.sample = int(entry.value, "access_log.sample", range: 1...1_000_000) ?? settings.sample
                }
            }
            settings.location = destinationLocation
            return settings
        }
        var settings = AccessLogSettings(destination: destination(node, "access_log") ?? .off)
        settings.location = destinationLocation
        return settings
    }

    /// `log_level:` — trace, debug, info, notice, warning, error or critical.
    func logLevel(_ node: Node) -> LogLevel? {
        let names = LogLevel.allCases.map(\.rawValue)
        guard let text = text(node, "log_level", expected: names.joined(separator: ", ")) else { return nil }
        guard let level = LogLevel(rawValue: text) else {
            error(node, "unknown log_level '\(text)'; expected one of: " + names.joined(separator: ", ")
                  + KeySuggestion.hint(for: text, in: names))
            return nil
        }
        return level
    }

    /// A top-level key the file does not know: route keys get a pointer to
    /// their top-level counterpart, anything else the usual message.
    func unknownTopLevelKey(_ key: String, _ keyNode: Node) {
        switch key {
        case "mode", "sync_to_thread":
            error(keyNode, "'\(key)' belongs in a route; to set the mode of every route that declares none, "
                  + "use default_mode: " + Self.orList(build.runnable([.sync, .thread, .process]).map(\.rawValue)))
        case "pool":
            error(keyNode, "'pool' belongs in a route (thread mode); define pools under thread_pool and thread_pools")
        default:
            let keys = Self.topLevelKeys
            error(keyNode, "unknown key '\(key)' in top level; expected one of: "
                  + keys.joined(separator: ", ") + placement.hint(for: key, in: .topLevel, keys: keys))
        }
    }

    /// `default_mode:` — the mode of routes whose sync handler declares none:
    /// sync, thread or process (those of them the build runs). `async` is
    /// refused: async handlers run on the event loop already, and the default
    /// applies to sync handlers only.
    func defaultMode(_ node: Node) -> ExecutionMode? {
        let allowed = build.runnable([.sync, .thread, .process])
        let names = allowed.map(\.rawValue)
        guard let text = text(node, "default_mode", expected: Self.orList(names)) else { return nil }
        guard let mode = ExecutionMode(rawValue: text) else {
            error(node, "unknown mode '\(text)' for default_mode; expected one of: "
                  + names.joined(separator: ", ") + KeySuggestion.hint(for: text, in: names))
            return nil
        }
        guard mode != .async else {
            error(node, "default_mode cannot be async: default_mode applies to sync handlers that declare no mode, "
                  + "and async handlers already run on the event loop without it; use " + Self.orList(names))
            return nil
        }
        if !build.runs(mode) {
            // Reported here once; still returned, so the routes that take it
            // neither repeat the error nor warn of an implicit sync mode.
            error(node, "default_mode \(mode.rawValue) is not available in this build"
                  + (names.isEmpty ? "" : "; use " + Self.orList(names)))
        }
        return mode
    }

    /// `a`, `a or b`, `a, b or c`.
    static func orList(_ words: [String]) -> String {
        guard words.count > 1 else { return words.first ?? "" }
        return words.dropLast().joined(separator: ", ") + " or " + words.last!
    }

    /// `listen:` — one address or a list; the same address twice is an error
    /// (except port 0, which binds a new free port each time).
    func listen(_ node: Node) -> [ListenAddress]? {
        guard let items = list(node, "listen", of: "addresses", allowSingle: true) else { return nil }
        if items.isEmpty {
            error(node, "listen names no address: a server with nothing to listen on serves nothing")
            return nil
        }
        var result: [ListenAddress] = []
        var seen: [ListenAddress: Node] = [:]
        var ok = true
        for item in items {
            guard let text = text(item, "each listen address", expected: "host:port, [v6]:port or unix:/path") else {
                ok = false; continue
            }
            do {
                let address = try ListenAddress(parsing: text)
                if let first = seen[address] {
                    error(item, "listen address '\(text)' is \(address) again (first at \(location(first))); give each address once")
                    ok = false
                    continue
                }
                if address.port != 0 { seen[address] = item }
                result.append(address)
            } catch {
                self.error(item, error.message)
                ok = false
            }
        }
        return ok ? result : nil
    }

    /// `event_loops:` — a number or `auto` (one per core).
    func eventLoops(_ node: Node, cores: Int) -> Int? {
        switch count(node, "event_loops", range: 1...4096) {
        case .auto?: return max(1, cores)
        case .fixed(let value)?: return value
        case nil: return nil
        }
    }

    /// `control:` — the control socket's path.
    func control(_ node: Node) -> String? {
        guard let path = string(node, "control") else { return nil }
        guard path.utf8.count <= ListenAddress.maxUnixPathBytes else {
            error(node, "control socket path is \(path.utf8.count) bytes; at most \(ListenAddress.maxUnixPathBytes) fit")
            return nil
        }
        return path
    }

    /// `limits:` — every key a positive integer, but the data rate may be 0
    /// (off) and the buffer ceiling may pass 2 GiB.
    func limits(_ node: Node) -> Limits {
        let positive = 1...Int(Int32.max)
        let fields: [(String, WritableKeyPath<Limits, Int>, ClosedRange<Int>)] = [
            ("max_header_bytes", \.maxHeaderBytes, positive), ("max_body_bytes", \.maxBodyBytes, positive),
            ("max_target_bytes", \.maxTargetBytes, positive), ("header_timeout_ms", \.headerTimeoutMs, positive),
            ("idle_timeout_ms", \.idleTimeoutMs, positive), ("max_connections", \.maxConnections, positive),
            ("shutdown_timeout_ms", \.shutdownTimeoutMs, positive),
            ("min_data_rate_bytes_per_s", \.minDataRateBytesPerSecond, 0...Int(Int32.max)),
            ("max_buffered_bytes", \.maxBufferedBytes, 65536...(1 << 40)),
        ]
        var limits = Limits()
        guard let mapping = mapping(node, "limits", keys: fields.map(\.0), place: .limits) else { return limits }
        for entry in mapping.entries {
            guard let field = fields.first(where: { $0.0 == entry.key }),
                  let value = int(entry.value, "limits.\(entry.key)", range: field.2) else { continue }
            limits[keyPath: field.1] = value
        }
        return limits
    }

    /// `compression:` — enabled, min_bytes (0 or more), level 1…9.
    func compression(_ node: Node) -> CompressionSettings {
        var settings = CompressionSettings()
        guard let mapping = mapping(node, "compression", keys: KeyPlacement.compressionKeys, place: .compression) else { return settings }
        for entry in mapping.entries {
            switch entry.key {
            case "enabled": settings.enabled = bool(entry.value, "compression.enabled") ?? settings.enabled
            case "min_bytes":
                settings.minBytes = int(entry.value, "compression.min_bytes", range: 0...Int(Int32.max)) ?? settings.minBytes
            default: settings.level = int(entry.value, "compression.level", range: 1...9) ?? settings.level
            }
        }
        return settings
    }

    /// A thread pool's `{ size, queue }`; `size: auto` is stored as nil.
    func pool(_ node: Node, _ name: String, defaults: PoolSettings) -> PoolSettings {
        pool(node, name, defaults: defaults, keys: KeyPlacement.threadPoolKeys)
    }

    /// `process_pool:` — `{ size, queue, max_jobs }`.
    func processPool(_ node: Node) -> PoolSettings {
        pool(node, "process_pool", defaults: ConfigDefaults.processPool, keys: KeyPlacement.processPoolKeys)
    }

    private func pool(_ node: Node, _ name: String, defaults: PoolSettings, keys: [String]) -> PoolSettings {
        var settings = defaults
        guard let mapping = mapping(node, name, keys: keys, unknownKey: { key, keyNode in
            if key == "max_jobs" {
                error(keyNode, "max_jobs applies to process_pool only (it recycles worker processes); "
                      + "\(name) takes: " + keys.joined(separator: ", "))
            } else {
                let place: KeyPlacement.Place = name == "process_pool" ? .processPool : .threadPool(name)
                error(keyNode, "unknown key '\(key)' in \(name); expected one of: "
                      + keys.joined(separator: ", ") + placement.hint(for: key, in: place, keys: keys))
            }
        }) else { return settings }
        for entry in mapping.entries {
            switch entry.key {
            case "size":
                switch count(entry.value, "\(name).size", range: 1...65536) {
                case .auto?: settings.size = nil
                case .fixed(let value)?: settings.size = value
                case nil: break
                }
            case "queue":
                settings.queue = int(entry.value, "\(name).queue", range: 1...Int(Int32.max)) ?? settings.queue
            default:
                settings.maxJobs = int(entry.value, "\(name).max_jobs", range: 0...Int.max) ?? settings.maxJobs
            }
        }
        return settings
    }

    /// `thread_pools:` — named pools, each `{ size, queue }`, defaulting as
    /// `thread_pool` does.
    func threadPools(_ node: Node) -> [String: PoolSettings] {
        guard !isNull(node) else { return [:] }
        guard case .mapping(let mapping) = node else {
            error(node, "thread_pools must be a mapping of pool names to { size, queue }; got \(describe(node))")
            return [:]
        }
        var pools: [String: PoolSettings] = [:]
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode, Self.isName(scalar.string) else {
                error(keyNode, "thread pool names use letters, digits, '_' and '-'; got \(describe(keyNode))")
                continue
            }
            guard scalar.string != Self.defaultPoolName else {
                error(keyNode, "thread pool name '\(Self.defaultPoolName)' is reserved for thread_pool, "
                      + "the pool thread-mode routes use without pool:; set it under thread_pool or choose another name")
                continue
            }
            pools[scalar.string] = pool(value, "thread_pools.\(scalar.string)", defaults: ConfigDefaults.threadPool)
        }
        return pools
    }

    /// `plugins:` — a list of `{ name, path }`.
    func plugins(_ node: Node) -> [PluginSpec] {
        guard let items = list(node, "plugins", of: "{ name, path } entries") else { return [] }
        var result: [PluginSpec] = []
        for item in items {
            guard let mapping = mapping(item, "plugins entry", keys: KeyPlacement.pluginKeys, place: .plugin) else { continue }
            var name: String?, path: String?
            if let entry = mapping["name"], let value = string(entry.value, "plugin name") {
                if value == "builtin" {
                    error(entry.value, "plugin name 'builtin' is reserved for the built-in handlers")
                } else if !Self.isName(value) {
                    error(entry.value, "plugin name '\(value)' must use letters, digits, '_' and '-'")
                } else {
                    name = value
                }
            } else if mapping["name"] == nil {
                error(item, "plugins entry needs a name")
            }
            if let entry = mapping["path"] {
                path = string(entry.value, "plugin path")
            } else {
                error(item, "plugins entry needs a path (the plugin's shared library)")
            }
            if let name, let path { result.append(PluginSpec(name: name, path: path, location: location(item))) }
        }
        return result
    }

    /// What `pool:` and `switchyard routes` call the shared `thread_pool`.
    static let defaultPoolName = "default"

    /// Letters, digits, `_` and `-`, not empty.
    static func isName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy {
            $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || ($0 >= 48 && $0 <= 57) || ($0 | 0x20 >= 97 && $0 | 0x20 <= 122)
        }
    }
}

/// The defaults the contract gives for settings whose model has no default.
enum ConfigDefaults {
    static let listen: [ListenAddress] = [.ipv4(host: "127.0.0.1", port: 8080)]
    static let eventLoops = 1
    static let threadPool = PoolSettings(size: 40, queue: 1024)
    static let processPool = PoolSettings(size: nil, queue: 256, maxJobs: 0)
}
