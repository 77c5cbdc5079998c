import SwitchyardConfig

/// What this build can run. A config may ask for more than a build can do;
/// rather than run a route somewhere other than where it was declared, or
/// start without a plugin it names, `check` and `serve` refuse it alike.
///
/// All four execution modes run: on the event loop (sync, async), in the
/// thread pools and in the worker processes. Shared-library plugins are not
/// loaded yet, so a declared plugin is refused.
public enum BuildCapabilities {
    /// The execution modes this build runs.
    public static let runnable: Set<ExecutionMode> = [.sync, .async, .thread, .process]

    /// One error per route whose effective mode cannot run in this build
    /// (none while every mode is runnable), and per declared plugin: this
    /// build loads none, and a plugin that is named but never loaded must not
    /// pass for one that works. Sorted by place in the files.
    public static func errors(in config: Config) -> [Diagnostic] {
        let modes = config.routes.filter { !runnable.contains($0.effectiveMode) }.map { route in
            Diagnostic(.error, route.location,
                       "route \(route.path): mode \(route.effectiveMode.rawValue) is not available in this build; "
                       + "declare one of: " + ExecutionMode.allCases.filter(runnable.contains).map(\.rawValue).joined(separator: ", "))
        }
        let plugins = config.plugins.map { plugin in
            Diagnostic(.error, plugin.location,
                       "plugin '\(plugin.name)': loading plugins is not available in this build yet; remove it for now")
        }
        return (modes + plugins).sorted { ($0.location.file, $0.location.line, $0.location.column) < ($1.location.file, $1.location.line, $1.location.column) }
    }
}
