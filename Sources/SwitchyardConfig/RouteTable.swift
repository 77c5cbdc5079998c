/// The text `switchyard routes` prints.
public enum RouteTable {
    /// One row per route, in config order, with columns METHODS, PATH,
    /// HANDLER, DECLARED, EFFECTIVE, POOL and WARNINGS, padded to line up;
    /// METHODS lists what the route answers, in the order and with the
    /// names of the `Allow` header a 405 carries (a GET route answers HEAD
    /// too), joined by `,` without spaces;
    /// then, if any route has warnings, each in full as
    /// `FILE:LINE:COL: warning: …`. Ends with a newline.
    ///
    /// DECLARED is what the route says, `-` if nothing, or
    /// `- (default_mode)` when the config's `default_mode` gave the mode.
    /// POOL is where it runs: the thread pool's name (`default` for
    /// `thread_pool`), `process` for the worker processes, `loop` for the
    /// event loop. WARNINGS has a short name per warning, `-` if none.
    public static func render(_ config: Config) -> String {
        var rows = [["METHODS", "PATH", "HANDLER", "DECLARED", "EFFECTIVE", "POOL", "WARNINGS"]]
        for route in config.routes {
            // What is served, as `Allow` lists it: a GET route answers HEAD too.
            let methods = MethodSetNames.list(route.methods.served)
            let warnings = route.warnings.isEmpty ? "-" : route.warnings.map(shortName).joined(separator: ", ")
            rows.append([methods, route.path, route.handler, declared(route),
                         route.effectiveMode.rawValue, pool(route), warnings])
        }
        var widths = [Int](repeating: 0, count: rows[0].count)
        for row in rows {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        var text = ""
        for row in rows {
            var line = ""
            for (i, cell) in row.enumerated() {
                if i == row.count - 1 {
                    line += cell
                } else {
                    line += cell + String(repeating: " ", count: widths[i] - cell.count + 2)
                }
            }
            text += line + "\n"
        }
        let warnings = config.routes.flatMap(\.warnings)
        if !warnings.isEmpty {
            text += "\n"
            for warning in warnings { text += warning.description + "\n" }
        }
        return text
    }

    /// The DECLARED column.
    static func declared(_ route: RouteSpec) -> String {
        if let mode = route.declaredMode { return mode.rawValue }
        return route.defaultModeApplied ? "- (default_mode)" : "-"
    }

    /// The POOL column.
    static func pool(_ route: RouteSpec) -> String {
        switch route.effectiveMode {
        case .thread: return route.pool ?? YAMLNodeDecoder.defaultPoolName
        case .process: return "process"
        case .sync, .async: return "loop"
        }
    }

    /// The WARNINGS column's name for a mode warning.
    static func shortName(_ warning: Diagnostic) -> String {
        if warning.message.contains("implicit sync mode") { return "implicit sync mode" }
        if warning.message.contains("has no effect") { return "thread has no effect" }
        return warning.message
    }
}
