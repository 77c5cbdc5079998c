import SwitchyardConfig

/// Execution modes this build can run. The config accepts all four (they
/// are the contract's), but a route must not silently run somewhere other
/// than where it was declared, so until the thread and process pools exist
/// such routes are refused by `check` and `serve` alike.
public enum ModeAvailability {
    public static let runnable: Set<ExecutionMode> = [.sync]

    /// One error per route whose effective mode cannot run yet.
    public static func errors(in config: Config) -> [Diagnostic] {
        config.routes.filter { !runnable.contains($0.effectiveMode) }.map { route in
            Diagnostic(.error, route.location,
                       "route \(route.path): mode \(route.effectiveMode.rawValue) is not available in this build yet; "
                       + "declare mode: sync for now (the \(route.effectiveMode.rawValue) pool is still to come)")
        }
    }
}
