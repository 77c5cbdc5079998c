import SwitchyardRouting
import Yams

/// One load: reads the main document and its includes, decodes every
/// section, checks routes against each other, and either builds the
/// `Config` or leaves every error in `log`.
struct ConfigAssembly {
    let catalog: HandlerCatalog
    let environment: [String: String]
    let cores: Int
    let log = DiagnosticLog()
    /// The files read (name and text, the main one first) and the
    /// directories include patterns look in.
    private let read = ReadFiles()

    private final class ReadFiles {
        var files: [(name: String, text: String)] = []
        var patternDirectories: [String] = []
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
        let main = YAMLNodeDecoder(file: name, log: log)
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
        reportConflicts(drafts)

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
            for file in files where seen.insert(TextFile.canonicalPath(file)).inserted {
                if let part = include(file: file, from: patternNode, decoder: decoder) { parts.append(part) }
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
        let included = YAMLNodeDecoder(file: file, log: log)
        let allowed = ["plugins", "routes"]
        guard let mapping = included.mapping(root, "included file", keys: allowed, unknownKey: { key, keyNode in
            if key == "include" {
                included.error(keyNode, "includes do not nest: 'include' is not allowed in an included file")
            } else if YAMLNodeDecoder.topLevelKeys.contains(key) {
                included.error(keyNode, "'\(key)' is not allowed in an included file; an included file holds only routes: and plugins:")
            } else {
                included.error(keyNode, "unknown key '\(key)' in included file; expected one of: plugins, routes"
                               + KeySuggestion.hint(for: key, in: allowed))
            }
        }) else { return nil }
        return Part(decoder: included, plugins: mapping["plugins"]?.value, routes: mapping["routes"]?.value)
    }

    // MARK: Conflicts

    /// Two routes no request can tell apart are an error at the later one,
    /// naming both places.
    private func reportConflicts(_ drafts: [RouteDraft]) {
        let candidates = drafts.compactMap { draft in draft.pattern.map { (draft, $0) } }
        let pairs = RouteConflicts.find(candidates.map { ($0.1, $0.0.methods) })
        for (earlier, later) in pairs {
            let a = candidates[earlier].0, b = candidates[later].0
            var common = a.methods.intersection(b.methods)
            if common.isEmpty { common = RouteConflicts.overlap(a.methods, b.methods) }
            let methods = MethodSetNames.list(common)
            log.error(b.location, "route \(methods) \(b.path ?? "") at \(b.location) "
                      + "can never be told apart from the one at \(a.location)")
        }
    }
}
