import SwitchyardConfig

/// What this build can run. A config may ask for more than a build can do;
/// rather than run a route somewhere other than where it was declared, or
/// start without a plugin it names, `check` and `serve` refuse it alike.
///
/// All four execution modes run: on the event loop (sync, async), in the
/// thread pools and in the worker processes. Shared-library plugins are not
/// loaded yet, so a declared plugin is refused.
///
/// A loader given `limits` reports these refusals with every other error of
/// the config in one round, at the place that asks for them, and advises no
/// mode the build refuses: `check`, `routes`, `serve` and every reload load so.
public enum BuildCapabilities {
    /// The execution modes this build runs.
    public static let runnable: Set<ExecutionMode> = [.sync, .async, .thread, .process]

    /// Whether this build loads shared-library plugins.
    public static let loadsPlugins = false

    /// What this build refuses, for `ConfigLoader(…, build:)`.
    public static let limits = BuildLimits(runnableModes: runnable, loadsPlugins: loadsPlugins)

    /// A loader that refuses what this build cannot do, in the same round as
    /// every other error.
    public static func loader(catalog: HandlerCatalog, environment: [String: String]) -> ConfigLoader {
        ConfigLoader(catalog: catalog, environment: environment, build: limits)
    }
}
