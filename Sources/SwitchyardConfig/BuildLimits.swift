/// What a build of the daemon can run, handed to `ConfigLoader` so that what
/// the build refuses is reported in the same round as every other mistake
/// (one `switchyard check` lists all), at the place that asks for it, and so
/// that no message advises a mode the build would then refuse.
///
/// The config layer does not know the build; the daemon passes its own
/// (`BuildCapabilities.limits`). `.unlimited` refuses nothing.
public struct BuildLimits: Sendable, Hashable {
    /// The execution modes routes may run in.
    public var runnableModes: Set<ExecutionMode>
    /// Whether `plugins:` entries can be loaded; when false each is an error.
    public var loadsPlugins: Bool

    public init(runnableModes: Set<ExecutionMode>, loadsPlugins: Bool) {
        self.runnableModes = runnableModes; self.loadsPlugins = loadsPlugins
    }

    /// Every mode runs and plugins load: nothing is refused.
    public static let unlimited = BuildLimits(runnableModes: Set(ExecutionMode.allCases), loadsPlugins: true)

    /// Whether `mode` runs in this build.
    public func runs(_ mode: ExecutionMode) -> Bool { runnableModes.contains(mode) }

    /// `modes` that run here, in the order given.
    public func runnable(_ modes: [ExecutionMode]) -> [ExecutionMode] { modes.filter(runs) }

    /// The error for a route whose mode this build cannot run; `declaredAs`
    /// is how the file said it (`mode: thread`), nil when the mode was not
    /// declared but followed from the table.
    public func modeRefusal(path: String, mode: ExecutionMode, declaredAs: String? = nil) -> String {
        let how = declaredAs.map { "\($0) asks for" } ?? "runs in"
        let choices = runnable(ExecutionMode.allCases).map(\.rawValue)
        return "route \(path): \(how) mode \(mode.rawValue), which is not available in this build"
            + (choices.isEmpty ? "" : "; declare one of: " + choices.joined(separator: ", "))
    }

    /// The error for a declared plugin when this build loads none.
    public static func pluginRefusal(name: String) -> String {
        "plugin '\(name)': loading plugins is not available in this build yet; remove it for now"
    }
}

/// `1 route`, `2 routes`, `0 warnings`: a count with its noun, as operators read it.
public enum Plural {
    /// `count` and `singular`, or `plural` (default: `singular` + "s") unless the count is 1.
    public static func count(_ count: Int, _ singular: String, _ plural: String? = nil) -> String {
        "\(count) " + (count == 1 ? singular : plural ?? singular + "s")
    }
}

extension ConfigError {
    /// How many errors and warnings, pluralised: `2 errors, 1 warning`.
    public var counts: String {
        let errors = diagnostics.filter { $0.severity == .error }.count
        return Plural.count(errors, "error") + ", " + Plural.count(diagnostics.count - errors, "warning")
    }

    /// The first error and how many more, on one line, pluralised:
    /// `FILE:L:C: error: … (and 1 more error; switchyard check lists them all)`.
    /// What `serve` and a failed reload can say where one line is all there is.
    public var firstErrorAndCount: String {
        let errors = diagnostics.filter { $0.severity == .error }
        guard let first = errors.first else { return description }
        guard errors.count > 1 else { return first.description }
        let more = errors.count - 1
        return "\(first) (and \(Plural.count(more, "more error", "more errors")); switchyard check lists "
            + (more == 1 ? "both)" : "them all)")
    }
}
