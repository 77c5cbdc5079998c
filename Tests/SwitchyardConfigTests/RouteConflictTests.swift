import Testing
import SwitchyardConfig

/// Two routes, and whether a request could ever tell them apart.
struct ConflictCase: Sendable, CustomTestStringConvertible {
    var first: (path: String, methods: String?)
    var second: (path: String, methods: String?)
    /// The methods the error names (both answer them: a GET route answers
    /// HEAD too), or nil when the routes are distinct.
    var clash: String?
    var testDescription: String {
        "\(first.methods ?? "default") \(first.path) vs \(second.methods ?? "default") \(second.path)"
    }
}

@Suite("Routes that can never be told apart")
struct RouteConflictTests {
    static let cases: [ConflictCase] = [
        ConflictCase(first: ("/a/{x}", nil), second: ("/a/{y}", nil), clash: "GET,HEAD"),
        ConflictCase(first: ("/a/{x}", "[GET]"), second: ("/a/{y}", "[GET]"), clash: "GET,HEAD"),
        ConflictCase(first: ("/a/{x}", "[GET]"), second: ("/a/{y}", "[HEAD]"), clash: "HEAD"),
        ConflictCase(first: ("/a/{x}", "[GET]"), second: ("/a/{y}", "[POST]"), clash: nil),
        ConflictCase(first: ("/f/{p...}", nil), second: ("/f/{q...}", nil), clash: "GET,HEAD"),
        ConflictCase(first: ("/a/{x}/c", nil), second: ("/a/{y}/c", "[GET, POST]"), clash: "GET,HEAD"),
        ConflictCase(first: ("/a/{x}", nil), second: ("/a/b", nil), clash: nil),
        ConflictCase(first: ("/a/{x}", nil), second: ("/a/{x...}", nil), clash: nil),
        ConflictCase(first: ("/a/{x}/c", nil), second: ("/a/{y}/d", nil), clash: nil),
        ConflictCase(first: ("/a", nil), second: ("/a/", nil), clash: nil),
        ConflictCase(first: ("/a", "[POST, PUT]"), second: ("/a", "[PUT, DELETE]"), clash: "PUT"),
        ConflictCase(first: ("/", nil), second: ("/", nil), clash: "GET,HEAD"),
        ConflictCase(first: ("/b", nil), second: ("/%62", nil), clash: "GET,HEAD"),
    ]

    static func route(_ route: (path: String, methods: String?)) -> String {
        "{ path: \"\(route.path)\"" + (route.methods.map { ", methods: \($0)" } ?? "") + ", handler: builtin.echo, mode: sync }"
    }

    @Test("same shape and a shared method is an error naming both places", arguments: cases)
    func conflict(_ conflictCase: ConflictCase) {
        let errors = TestCatalog.errors("""
            routes:
              - \(Self.route(conflictCase.first))
              - \(Self.route(conflictCase.second))
            """)
        if let clash = conflictCase.clash {
            let (first, second) = (conflictCase.first, conflictCase.second)
            var notes: [String] = []
            if first.path != second.path {
                notes.append(second.path.contains("{") ? "parameter names do not count" : "%-escapes are decoded before matching")
            }
            if first.methods == "[GET]", second.methods == "[HEAD]" { notes.append("a GET route answers HEAD too") }
            let other = first.path == second.path ? "the one" : first.path
            #expect(errors == ["t.yaml:3:5: error: route \(second.path) can never be told apart from \(other) at t.yaml:2:5: "
                               + "both answer \(clash) on the same path"
                               + (notes.isEmpty ? "" : " (" + notes.joined(separator: "; ") + ")")
                               + "; give one a different path or different methods"])
        } else {
            #expect(errors.isEmpty)
        }
    }

    @Test("a third copy is reported against the first")
    func threeCopies() {
        let errors = TestCatalog.errors("""
            routes:
              - { path: /x, handler: builtin.echo, mode: sync }
              - { path: /y, handler: builtin.echo, mode: sync }
              - { path: /x, handler: builtin.echo, mode: sync }
              - { path: /x, handler: builtin.text, mode: sync }
            """)
        let advice = "both answer GET,HEAD on the same path; give one a different path or different methods"
        #expect(errors == [
            "t.yaml:4:5: error: route /x can never be told apart from the one at t.yaml:2:5: \(advice)",
            "t.yaml:5:5: error: route /x can never be told apart from the one at t.yaml:2:5: \(advice)",
        ])
    }
}
