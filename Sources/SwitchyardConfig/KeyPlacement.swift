/// Where a key that is unknown in one section belongs instead: a key written
/// at the wrong indentation is usually a known key of another section
/// (`max_body_bytes` at the top level belongs under `limits:`, `handler` at
/// the top level in a route, `body` in a route under its `options:`), and
/// the operator is better served by "did you mean to indent it under
/// `limits:`?" than by a list of the keys of the section it landed in.
///
/// Each section's keys are the ones its decoder takes; handler options come
/// from the catalog.
struct KeyPlacement {
    /// The sections a key can land in.
    enum Place: Equatable {
        case topLevel
        /// An included file: `plugins:` and `routes:` only.
        case includedFile
        case limits
        case compression
        case accessLog
        /// `thread_pool:` or one of `thread_pools:` (the name is how messages call it).
        case threadPool(String)
        case processPool
        case plugin
        case route
        /// A route's `options:`.
        case options
    }

    /// Every option any handler takes (in a route: its handler's).
    var optionNames: Set<String> = []
    /// Whether `access_log:` is written as one value (`stderr`, a path), so
    /// a `sample:` cannot simply be indented under it.
    var accessLogIsScalar = false

    static let limitKeys = [
        "max_header_bytes", "max_body_bytes", "max_target_bytes", "header_timeout_ms", "idle_timeout_ms",
        "max_connections", "shutdown_timeout_ms", "min_data_rate_bytes_per_s", "max_buffered_bytes",
    ]
    static let compressionKeys = ["enabled", "min_bytes", "level"]
    static let accessLogKeys = ["to", "sample"]
    static let threadPoolKeys = ["size", "queue"]
    static let processPoolKeys = ["size", "queue", "max_jobs"]
    static let pluginKeys = ["name", "path"]

    /// Where `key`, unknown in `place`, belongs, as the end of a message
    /// (`; did you mean to indent it under `limits:`?`), or nil when no
    /// other section takes it.
    func hint(for key: String, in place: Place) -> String? {
        let quoted = "'\(key)'"
        let nested = place != .topLevel && place != .includedFile

        // Out of options: a route key (compression too, which the top level also takes).
        if place == .options, RouteDecoder.keys.contains(key) {
            return "; \(quoted) is a route key, not an option: did you mean to outdent it out of `options:`?"
        }
        // A top-level key indented under something.
        if nested, YAMLNodeDecoder.topLevelKeys.contains(key) {
            return "; \(quoted) is a top-level key: did you mean to outdent it out of \(Self.name(place))?"
        }
        // A route key outside a route (a plugin's path is its own).
        if RouteDecoder.keys.contains(key), place != .route, !(key == "path" && place == .plugin) {
            if place == .topLevel || place == .includedFile {
                return "; \(quoted) is a route key: did you mean to indent it under a `routes:` entry (- path: …)?"
            }
            return "; \(quoted) is a route key: it belongs in a `routes:` entry"
        }
        if Self.limitKeys.contains(key) {
            if place == .topLevel { return "; did you mean to indent it under `limits:`?" }
            let scope = place == .route || place == .options ? " (limits apply to the whole server, not to one route)" : ""
            return "; \(quoted) belongs under the top-level `limits:`\(scope)"
        }
        if Self.compressionKeys.contains(key), place != .compression {
            if place == .topLevel { return "; did you mean to indent it under `compression:`?" }
            let scope = place == .route ? " (a route takes only compression: true or false)" : ""
            return "; \(quoted) belongs under the top-level `compression:`\(scope)"
        }
        if key == "sample", place != .accessLog {
            if place == .topLevel, accessLogIsScalar {
                return "; to sample the access log, write both in one mapping: access_log: { to: …, sample: N }"
            }
            if place == .topLevel { return "; did you mean to indent it under `access_log:`?" }
            return "; \(quoted) belongs under the top-level `access_log:`"
        }
        if Self.processPoolKeys.contains(key), !Self.isPool(place) {
            let pools = key == "max_jobs" ? "`process_pool:`" : "`thread_pool:` or `process_pool:`"
            if place == .topLevel { return "; did you mean to indent it under \(pools)?" }
            let scope = place == .route ? " (a route picks a named thread pool with pool:)" : ""
            return "; \(quoted) belongs under \(pools)\(scope)"
        }
        if Self.pluginKeys.contains(key), place != .plugin {
            if place == .topLevel || place == .includedFile {
                return "; did you mean to indent it under a `plugins:` entry (- name: …)?"
            }
            return "; \(quoted) is a plugins key: it belongs in a `plugins:` entry"
        }
        if optionNames.contains(key) {
            switch place {
            case .route: return "; \(quoted) is a handler option: did you mean to indent it under `options:`?"
            case .topLevel, .includedFile:
                return "; \(quoted) is a handler option: did you mean to indent it under a route's `options:`?"
            default: return "; \(quoted) is a handler option: it belongs under a route's `options:`"
            }
        }
        return nil
    }

    /// How a message names a section: `` `limits:` ``, `a route`.
    static func name(_ place: Place) -> String {
        switch place {
        case .topLevel: return "the top level"
        case .includedFile: return "the included file"
        case .limits: return "`limits:`"
        case .compression: return "`compression:`"
        case .accessLog: return "`access_log:`"
        case .threadPool(let name): return "`\(name):`"
        case .processPool: return "`process_pool:`"
        case .plugin: return "a `plugins:` entry"
        case .route: return "a route"
        case .options: return "`options:`"
        }
    }

    private static func isPool(_ place: Place) -> Bool {
        if case .threadPool = place { return true }
        return place == .processPool
    }

    /// The placement hint for `key`, else the spelling hint among `keys`.
    func hint(for key: String, in place: Place, keys: [String]) -> String {
        hint(for: key, in: place) ?? KeySuggestion.hint(for: key, in: keys)
    }
}
