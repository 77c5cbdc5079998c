#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Reads a Switchyard config: YAML parsed by Yams into nodes that keep their
/// line and column, decoded into the typed model, validated, with every
/// route's execution mode resolved by the contract's table.
///
/// Loading is synchronous file I/O and parsing on the caller's thread; a
/// loader holds no state between loads, so one may be shared freely.
public struct ConfigLoader: Sendable {
    /// Which handlers exist, their kind and their options.
    public var catalog: HandlerCatalog
    /// Where the `SWITCHYARD_WARN_*` switches are read from.
    public var environment: [String: String]
    /// What `event_loops: auto` becomes.
    public var cores: Int
    /// What the build refuses (modes it cannot run, plugins it cannot load):
    /// reported with every other error in one load.
    public var build: BuildLimits

    /// - Parameters:
    ///   - catalog: the handlers routes may name (from the plugins layer).
    ///   - environment: read for `SWITCHYARD_WARN_IMPLICIT_SYNC_TO_THREAD` and
    ///     `SWITCHYARD_WARN_SYNC_TO_THREAD_WITH_ASYNC`.
    ///   - cores: what `auto` means; defaults to the online CPUs.
    ///   - build: what this build refuses; `.unlimited` refuses nothing.
    public init(catalog: HandlerCatalog,
                environment: [String: String] = ProcessInfo.processInfo.environment,
                cores: Int = ConfigLoader.onlineProcessorCount,
                build: BuildLimits = .unlimited) {
        self.catalog = catalog
        self.environment = environment
        self.cores = max(1, cores)
        self.build = build
    }

    /// The number of online CPUs (at least 1).
    public static var onlineProcessorCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Loads a file (and its includes, relative to its directory).
    ///
    /// - Throws: `ConfigError` with every error found, each at
    ///   `file:line:col` (the included file when the mistake is there), in
    ///   file order, along with the warnings.
    public func load(file path: String) throws(ConfigError) -> Config {
        let text: String
        do {
            text = try TextFile.contents(of: path)
        } catch {
            throw ConfigError([Diagnostic(.error, SourceLocation(file: path, line: error.position?.line ?? 1, column: error.position?.column ?? 1),
                                          "cannot read config: \(error.reason)")])
        }
        return try load(yaml: text, name: path, baseDirectory: TextFile.directory(of: path))
    }

    /// Loads YAML text.
    ///
    /// - Parameters:
    ///   - yaml: the config's text.
    ///   - name: what diagnostics call the file (e.g. `<embedded default>`);
    ///     also `Config.source`.
    ///   - baseDirectory: where `include:` patterns are resolved; nil or
    ///     empty means the current directory.
    /// - Throws: `ConfigError` as `load(file:)` does.
    public func load(yaml: String, name: String, baseDirectory: String?) throws(ConfigError) -> Config {
        let assembly = ConfigAssembly(catalog: catalog, environment: environment, cores: cores, build: build)
        guard let config = assembly.assemble(yaml: yaml, name: name, baseDirectory: baseDirectory) else {
            throw ConfigError(assembly.diagnostics)
        }
        return config
    }
}
