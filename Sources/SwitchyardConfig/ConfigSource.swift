/// Which config `serve`, `check` and `routes` use: `--config`, else
/// `$SWITCHYARD_CONFIG`, else `/etc/switchyard/switchyard.yaml` if it
/// exists, else the embedded default.
public enum ConfigSource: Equatable, Sendable, CustomStringConvertible {
    /// A config file, by the path given (not resolved further).
    case file(String)
    /// `EmbeddedDefault.yaml`.
    case embeddedDefault

    /// The system-wide config, used when it exists and nothing else is named.
    public static let systemPath = "/etc/switchyard/switchyard.yaml"

    /// Picks the source. An empty `$SWITCHYARD_CONFIG` counts as unset; an
    /// empty `--config` is refused by the command line before this.
    /// `fileExists` is asked only about `systemPath`.
    public static func resolve(flag: String?, environment: [String: String],
                               fileExists: (String) -> Bool) -> ConfigSource {
        if let flag, !flag.isEmpty { return .file(flag) }
        if let path = environment["SWITCHYARD_CONFIG"], !path.isEmpty { return .file(path) }
        if fileExists(systemPath) { return .file(systemPath) }
        return .embeddedDefault
    }

    /// For the log line `using config …`: the path, or `<embedded default>`.
    public var description: String {
        switch self {
        case .file(let path): return path
        case .embeddedDefault: return EmbeddedDefault.name
        }
    }
}
