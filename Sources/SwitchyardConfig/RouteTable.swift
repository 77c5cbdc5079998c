/// The text `switchyard routes` prints.
public enum RouteTable {
    /// One row per route, in config order, with columns METHODS, PATH,
    /// HANDLER, DECLARED (`-` if none), EFFECTIVE and WARNINGS (a short name
    /// per warning, `-` if none), padded to line up; then, if any route has
    /// warnings, each in full as `FILE:LINE:COL: warning: …`. Ends with a
    /// newline.
    public static func render(_ config: Config) -> String {
        var rows = [["METHODS", "PATH", "HANDLER", "DECLARED", "EFFECTIVE", "WARNINGS"]]
        for route in config.routes {
            let methods = MethodSetNames.list(route.methods)
            let warnings = route.warnings.isEmpty ? "-" : route.warnings.map(shortName).joined(separator: ", ")
            rows.append([methods, route.path, route.handler, route.declaredMode?.rawValue ?? "-",
                         route.effectiveMode.rawValue, warnings])
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

    /// The WARNINGS column's name for a mode warning.
    static func shortName(_ warning: Diagnostic) -> String {
        if warning.message.contains("implicit sync mode") { return "implicit sync mode" }
        if warning.message.contains("has no effect") { return "thread has no effect" }
        return warning.message
    }
}
