/// Collects the errors and warnings of one load, and hands them back in file
/// order: files in the order they were read, then line, then column, then the
/// order they were found in.
///
/// One log belongs to one `ConfigLoader.load` call on one thread.
final class DiagnosticLog {
    private var items: [Diagnostic] = []
    private var fileOrder: [String: Int] = [:]
    private(set) var errorCount = 0

    /// Most errors one load reports; past this the rest are summarised.
    static let errorLimit = 100

    /// Notes that `file` was read, so its diagnostics sort after earlier files'.
    func register(file: String) {
        if fileOrder[file] == nil { fileOrder[file] = fileOrder.count }
    }

    func error(_ location: SourceLocation, _ message: String) {
        items.append(Diagnostic(.error, location, message))
        errorCount += 1
    }

    func warning(_ location: SourceLocation, _ message: String) {
        items.append(Diagnostic(.warning, location, message))
    }

    var hasErrors: Bool { errorCount > 0 }

    /// Every diagnostic (or those of one severity) in file order. Past
    /// `errorLimit` errors, the rest are replaced by one line saying how many.
    func sorted(only severity: Diagnostic.Severity? = nil) -> [Diagnostic] {
        let ordered = items.enumerated()
            .filter { severity == nil || $0.element.severity == severity }
            .sorted { lhs, rhs in
                let a = lhs.element.location, b = rhs.element.location
                let fa = fileOrder[a.file] ?? Int.max, fb = fileOrder[b.file] ?? Int.max
                if fa != fb { return fa < fb }
                if a.file != b.file { return a.file < b.file }
                if a.line != b.line { return a.line < b.line }
                if a.column != b.column { return a.column < b.column }
                return lhs.offset < rhs.offset
            }
            .map(\.element)
        var result: [Diagnostic] = []
        var errors = 0
        for diagnostic in ordered {
            if diagnostic.severity == .error {
                errors += 1
                if errors > Self.errorLimit {
                    result.append(Diagnostic(.error, diagnostic.location,
                        "too many errors (\(errorCount) in all); fix these first"))
                    break
                }
            }
            result.append(diagnostic)
        }
        return result
    }
}
