import SwitchyardConfig

/// What this build can run. Execution modes: The config accepts all four (they
/// are the contract's), but a route must not silently run somewhere other
/// than where it was declared, so until the thread and process pools exist
/// such routes are refused by `check` and `serve` alike.
public enum BuildCapabilities {
    public static let runnable: Set<ExecutionMode> = [.sync]

    /// One error per route whose effective mode cannot run yet, and per
    /// declared plugin: this build loads none, and a plugin that is named but
    /// never loaded must not pass for one that works.
    public static func errors(in config: Config) -> [Diagnostic] {
        let modes = config.routes.filter { !runnable.contains($0.effectiveMode) }.map { route in
            Diagnostic(.error, route.location,
                       "route \(route.path): mode \(route.effectiveMode.rawValue) is not available in this build yet; "
                       + "declare mode: sync for now (the \(route.effectiveMode.rawValue) pool is still to come)")
        }
        let plugins = config.plugins.map { plugin in
            Diagnostic(.error, plugin.location,
                       "plugin '\(plugin.name)': loading plugins is not available in this build yet; remove it for now")
        }
        return (modes + plugins).sorted { ($0.location.file, $0.location.line, $0.location.column) < ($1.location.file, $1.location.line, $1.location.column) }
    }
}
