import SwitchyardRouting
import Yams

/// One load: reads the main document and its includes, decodes every
/// section, checks routes against each other, and either builds the
/// `Config` or leaves every error in `log`.
struct ConfigAssembly {
    let catalog: HandlerCatalog
    let environment: [String: String]
    let cores: Int
    /// What the build refuses: reported here, with everything else.
    let build: BuildLimits
    let log = DiagnosticLog()
    /// The files read (name and text, the main one first) and the
    /// directories include patterns look in.
    private let read = ReadFiles()

    private final class ReadFiles {
        var files: [(name: String, text: String)] = []
        var patternDirectories: [String] = []
        /// An included file that could not be read or used: whether it
        /// holds routes is not known.
        var includeFailed = false
    }

    /// A file's `plugins:` and `routes:` nodes, with the decoder for its name.
    private struct Part {
        var decoder: YAMLNodeDecoder
        var plugins: Node?
        var routes: Node?
    }

    func assemble(yaml text: String, name: String, baseDirectory: String?) -> Config? {
        log.register(file: name)
        read.files.append((name, text))
        guard let root = YAMLDocument.parse(text, file: name, log: log) else { return nil }
        var main = makeDecoder(for: name)
        if case .mapping(let mapping) = root, case .scalar(let value)? = mapping["access_log"], !value.string.isEmpty {
            main.placement.accessLogIsScalar = true
        }
        var config = Config(
            source: name, listen: ConfigDefaults.listen, eventLoops: ConfigDefaults.eventLoops,
            limits: Limits(), control: nil, compression: CompressionSettings(),
            threadPool: ConfigDefaults.threadPool, threadPools: [:], processPool: ConfigDefaults.processPool,
            plugins: [], routes: [], warnings: [])
        guard let top = main.mapping(root, "top level", keys: YAMLNodeDecoder.topLevelKeys,
                                        unknownKey: main.unknownTopLevelKey) else { return nil }

        var parts = [Part(decoder: main, plugins: top["plugins"]?.value, routes: top["routes"]?.value)]
        for entry in top.entries {
            let value = entry.value
            switch entry.key {
            case "listen": config.listen = main.listen(value) ?? config.listen
            case "event_loops": config.eventLoops = main.eventLoops(value, cores: cores) ?? config.eventLoops
            case "limits": config.limits = main.limits(value)
            case "control": config.control = main.control(value)
            case "reload_on_change": config.reloadOnChange = main.bool(value, "reload_on_change") ?? false
            case "log_level": config.logLevel = main.logLevel(value)
            case "access_log": config.accessLog = main.accessLog(value, baseDirectory: baseDirectory)
            case "default_mode": config.defaultMode = main.defaultMode(value)
            case "compression": config.compression = main.compression(value)
            case "thread_pool": config.threadPool = main.pool(value, "thread_pool", defaults: ConfigDefaults.threadPool)
            case "thread_pools": config.threadPools = main.threadPools(value)
            case "process_pool": config.processPool = main.processPool(value)
            case "include": parts += includes(value, decoder: main, baseDirectory: baseDirectory, mainName: name)
            default: break  // plugins and routes: below, once every file is read
            }
        }

        // Plugins first, from every file, so any route may name any plugin.
        var pluginsByName: [String: PluginSpec] = [:]
        for part in parts {
            guard let node = part.plugins else { continue }
            for plugin in part.decoder.plugins(node) {
                if let first = pluginsByName[plugin.name] {
                    log.error(plugin.location, "plugin '\(plugin.name)' is declared twice (first at \(first.location))")
                    continue
                }
                pluginsByName[plugin.name] = plugin
                config.plugins.append(plugin)
                if !build.loadsPlugins { log.error(plugin.location, BuildLimits.pluginRefusal(name: plugin.name)) }
            }
        }

        var drafts: [RouteDraft] = []
        for part in parts {
            guard let node = part.routes else { continue }
            let decoder = RouteDecoder(
                decoder: part.decoder, catalog: catalog, pluginNames: Set(pluginsByName.keys),
                threadPoolNames: Set(config.threadPools.keys), defaultMode: config.defaultMode,
                environment: environment)
            drafts += decoder.routes(node)
        }
        reportConflicts(&drafts)
        // Warnings only for routes without an error of their own.
        for draft in drafts where !draft.hasError {
            for warning in draft.warnings { log.warning(warning.location, warning.message) }
        }
        if drafts.isEmpty, !read.includeFailed, parts.allSatisfy({ part in part.routes.map { Self.isEmptyList($0, in: part.decoder) } ?? true }) {
            let at = top["routes"].map { main.location($0.keyNode) } ?? SourceLocation(file: name, line: 1, column: 1)
            log.warning(at, "no routes: this config serves nothing but 404s; add routes under routes:"
                        + (parts.count > 1 ? " (its included files have none either)" : ""))
        }

        guard !log.hasErrors else { return nil }
        config.routes = drafts.compactMap(\.spec)
        config.warnings = log.sorted(only: .warning)
        recordFiles(in: &config, mainIsFile: baseDirectory != nil)
        return config
    }

    /// What was read, for reload: the files, the directories to watch and
    /// the content hash.
    private func recordFiles(in config: inout Config, mainIsFile: Bool) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ text: String) {
            for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            hash = (hash ^ 0xFF) &* 0x100_0000_01b3   // a separator: "ab"+"c" differs from "a"+"bc"
        }
        for file in read.files { mix(file.name); mix(file.text) }
        let hex = String(hash, radix: 16)
        config.contentHash = String(repeating: "0", count: 16 - hex.count) + hex
        let files = read.files.map(\.name).dropFirst(mainIsFile ? 0 : 1)
        config.files = Array(files)
        var directories: [String] = []
        let fileDirectories = files.map { TextFile.directory(of: $0) }.map { $0.isEmpty ? "." : $0 }
        for directory in fileDirectories + read.patternDirectories where !directories.contains(directory) {
            directories.append(directory)
        }
        config.watchDirectories = directories
    }

    /// Every diagnostic so far, in file order.
    var diagnostics: [Diagnostic] { log.sorted() }

    /// A decoder for one file, knowing where misplaced keys belong and what the build refuses.
    private func makeDecoder(for file: String) -> YAMLNodeDecoder {
        var decoder = YAMLNodeDecoder(file: file, log: log)
        decoder.placement = KeyPlacement(optionNames: Set(catalog.entries.values.flatMap(\.options.keys)))
        decoder.build = build
        return decoder
    }

    /// Whether a `routes:` value holds no route: null or `[]` (not a
    /// mistake, which has its own error).
    private static func isEmptyList(_ node: Node, in decoder: YAMLNodeDecoder) -> Bool {
        if decoder.isNull(node) { return true }
        if case .sequence(let items) = node { return items.isEmpty }
        return false
    }

    // MARK: Includes

    /// Reads the files `include:` names. Each may hold `plugins:` and
    /// `routes:` only; includes do not nest. A file matched twice (or the
    /// main file itself) is read once.
    private func includes(_ node: Node, decoder: YAMLNodeDecoder, baseDirectory: String?, mainName: String) -> [Part] {
        guard let patterns = decoder.list(node, "include", of: "file patterns", allowSingle: true) else { return [] }
        var seen: Set<String> = [TextFile.canonicalPath(mainName)]
        var parts: [Part] = []
        for patternNode in patterns {
            guard let pattern = decoder.string(patternNode, "each include pattern") else { continue }
            let files: [String]
            let resolved = IncludeGlob.resolve(pattern, relativeTo: baseDirectory)
            read.patternDirectories.append(IncludeGlob.directory(of: resolved))
            do {
                files = try IncludeGlob.expand(resolved)
            } catch {
                decoder.error(patternNode, error.message)
                continue
            }
            if files.isEmpty, IncludeGlob.isLiteral(pattern) {
                decoder.error(patternNode, "included file '\(pattern)' does not exist (a pattern with * ? or [ may match nothing; a file name must)")
                continue
            }
            if files.isEmpty {
                decoder.warning(patternNode, "include pattern '\(pattern)' matches no file, so it adds nothing"
                                + (resolved == pattern ? "" : " (looked for \(resolved))"))
                continue
            }
            for file in files where seen.insert(TextFile.canonicalPath(file)).inserted {
                if let part = include(file: file, from: patternNode, decoder: decoder) {
                    parts.append(part)
                } else {
                    read.includeFailed = true
                }
            }
        }
        return parts
    }

    private func include(file: String, from patternNode: Node, decoder: YAMLNodeDecoder) -> Part? {
        let text: String
        do {
            text = try TextFile.contents(of: file)
        } catch where error.position != nil {
            // The mistake is inside the included file: point there.
            log.register(file: file)
            log.error(SourceLocation(file: file, line: error.position!.line, column: error.position!.column), error.reason)
            return nil
        } catch {
            decoder.error(patternNode, "cannot read included file '\(file)': \(error.reason)")
            return nil
        }
        log.register(file: file)
        read.files.append((file, text))
        guard let root = YAMLDocument.parse(text, file: file, log: log) else { return nil }
        let included = makeDecoder(for: file)
        let allowed = ["plugins", "routes"]
        guard let mapping = included.mapping(root, "included file", keys: allowed, unknownKey: { key, keyNode in
            if key == "include" {
                included.error(keyNode, "includes do not nest: 'include' is not allowed in an included file")
            } else if YAMLNodeDecoder.topLevelKeys.contains(key) {
                included.error(keyNode, "'\(key)' is not allowed in an included file; an included file holds only routes: and plugins:")
            } else {
                included.error(keyNode, "unknown key '\(key)' in included file; expected one of: plugins, routes"
                               + included.placement.hint(for: key, in: .includedFile, keys: allowed))
            }
        }) else { return nil }
        return Part(decoder: included, plugins: mapping["plugins"]?.value, routes: mapping["routes"]?.value)
    }

    // MARK: Conflicts

    /// Two routes no request can tell apart are an error at the later one,
    /// naming both places and what to change; the later one then counts as
    /// having an error (so it gets no warning beside it).
    private func reportConflicts(_ drafts: inout [RouteDraft]) {
        let candidates = drafts.indices.compactMap { i in drafts[i].pattern.map { (i, $0) } }
        let pairs = RouteConflicts.find(candidates.map { ($0.1, drafts[$0.0].methods) })
        for (earlier, later) in pairs {
            let a = drafts[candidates[earlier].0], b = drafts[candidates[later].0]
            drafts[candidates[later].0].hasError = true
            log.error(b.location, RouteConflicts.message(
                path: b.path ?? "", methods: b.methods, other: (a.path ?? "", a.methods, a.location)))
        }
    }
}
