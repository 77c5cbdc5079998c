import Testing
import SwitchyardConfig

/// One row of the contract's execution-mode table.
struct ModeRow: Sendable, CustomTestStringConvertible {
    /// YAML for the declaration (`mode: thread`, `sync_to_thread: true`, or "").
    var declared: String
    /// `builtin.sleep` (sync) or `builtin.delay` (async).
    var handler: String
    /// nil: the row is an error.
    var effective: ExecutionMode?
    /// A phrase the one warning must contain, if the row warns.
    var warning: String?
    var testDescription: String { "\(declared.isEmpty ? "nothing" : declared) + \(handler)" }
}

@Suite("Execution modes: the contract's table")
struct ModeTests {
    static let rows: [ModeRow] = [
        ModeRow(declared: "", handler: "builtin.sleep", effective: .sync, warning: "implicit sync mode"),
        ModeRow(declared: "", handler: "builtin.delay", effective: .async, warning: nil),
        ModeRow(declared: "mode: sync", handler: "builtin.sleep", effective: .sync, warning: nil),
        ModeRow(declared: "mode: sync", handler: "builtin.delay", effective: nil, warning: nil),
        ModeRow(declared: "mode: async", handler: "builtin.sleep", effective: nil, warning: nil),
        ModeRow(declared: "mode: async", handler: "builtin.delay", effective: .async, warning: nil),
        ModeRow(declared: "mode: thread", handler: "builtin.sleep", effective: .thread, warning: nil),
        ModeRow(declared: "mode: thread", handler: "builtin.delay", effective: .async, warning: "mode: thread has no effect"),
        ModeRow(declared: "mode: process", handler: "builtin.sleep", effective: .process, warning: nil),
        ModeRow(declared: "mode: process", handler: "builtin.delay", effective: nil, warning: nil),
        // sync_to_thread is a synonym of mode: thread / mode: sync.
        ModeRow(declared: "sync_to_thread: true", handler: "builtin.sleep", effective: .thread, warning: nil),
        ModeRow(declared: "sync_to_thread: false", handler: "builtin.sleep", effective: .sync, warning: nil),
        ModeRow(declared: "sync_to_thread: true", handler: "builtin.delay", effective: .async, warning: "sync_to_thread: true has no effect"),
        ModeRow(declared: "sync_to_thread: false", handler: "builtin.delay", effective: nil, warning: nil),
        ModeRow(declared: "{ mode: thread, sync_to_thread: true }", handler: "builtin.sleep", effective: .thread, warning: nil),
    ]

    static func yaml(_ row: ModeRow) -> String {
        var declaration = row.declared
        if declaration.hasPrefix("{") { declaration = String(declaration.dropFirst(2).dropLast(2)) }
        return """
            routes:
              - { path: /report, handler: \(row.handler)\(declaration.isEmpty ? "" : ", " + declaration) }
            """
    }

    @Test("declared mode × handler kind", arguments: rows)
    func table(_ row: ModeRow) throws {
        switch TestCatalog.load(Self.yaml(row)) {
        case .success(let config):
            let route = try #require(config.routes.first)
            #expect(route.effectiveMode == row.effective)
            let declared: ExecutionMode? = row.declared.isEmpty ? nil
                : row.declared.contains("sync_to_thread: false") ? .sync
                : row.declared.contains("sync_to_thread: true") ? .thread
                : ExecutionMode(rawValue: String(row.declared.dropFirst("mode: ".count)))
            #expect(route.declaredMode == declared)
            if let phrase = row.warning {
                #expect(route.warnings.count == 1)
                #expect(route.warnings.first?.message.contains(phrase) == true, "\(route.warnings)")
                #expect(route.warnings.first?.severity == .warning)
                #expect(config.warnings == route.warnings)
            } else {
                #expect(route.warnings.isEmpty)
                #expect(config.warnings.isEmpty)
            }
        case .failure(let error):
            #expect(row.effective == nil, "unexpected error: \(error)")
            #expect(error.diagnostics.filter { $0.severity == .error }.count == 1)
        }
    }

    @Test("the implicit sync warning says what to do, at the handler")
    func implicitSyncMessage() throws {
        let config = try #require(TestCatalog.config("""
            routes:
              - path: /report
                handler: builtin.sleep
            """))
        #expect(config.warnings.map(\.description) == [
            "t.yaml:3:14: warning: route /report: sync handler builtin.sleep has no declared mode and runs on the event loop "
                + "(implicit sync mode); declare mode: sync if it never blocks, or mode: thread, "
                + "or set a top-level default_mode for every route that declares none "
                + "(SWITCHYARD_WARN_IMPLICIT_SYNC_TO_THREAD=0 silences this)",
        ])
    }

    @Test("the thread-with-async warning says thread has no effect, at the mode")
    func threadWithAsyncMessage() throws {
        let config = try #require(TestCatalog.config("""
            routes:
              - path: /wait
                handler: builtin.delay
                mode: thread
            """))
        #expect(config.warnings.map(\.description) == [
            "t.yaml:4:11: warning: route /wait: mode: thread has no effect on async handler builtin.delay, "
                + "which runs on the event loop; declare mode: async instead "
                + "(SWITCHYARD_WARN_SYNC_TO_THREAD_WITH_ASYNC=0 silences this)",
        ])
    }

    static let bothWarnings = """
        routes:
          - { path: /implicit, handler: builtin.sleep }
          - { path: /thread, handler: builtin.delay, sync_to_thread: true }
        """

    @Test("each silencing variable turns off its own warning only",
          arguments: ["SWITCHYARD_WARN_IMPLICIT_SYNC_TO_THREAD", "SWITCHYARD_WARN_SYNC_TO_THREAD_WITH_ASYNC"],
                     ["0", "false", "No", "OFF"])
    func silenced(variable: String, value: String) throws {
        let config = try #require(TestCatalog.config(Self.bothWarnings, environment: [variable: value]))
        #expect(config.warnings.count == 1)
        let remaining = config.warnings.first?.message ?? ""
        if variable == "SWITCHYARD_WARN_IMPLICIT_SYNC_TO_THREAD" {
            #expect(remaining.contains("has no effect"))
            #expect(config.routes[0].warnings.isEmpty)
        } else {
            #expect(remaining.contains("implicit sync mode"))
            #expect(config.routes[1].warnings.isEmpty)
        }
    }

    @Test("other values leave the warnings on", arguments: ["1", "true", "yes", ""])
    func notSilenced(value: String) throws {
        let environment = ["SWITCHYARD_WARN_IMPLICIT_SYNC_TO_THREAD": value,
                           "SWITCHYARD_WARN_SYNC_TO_THREAD_WITH_ASYNC": value]
        let config = try #require(TestCatalog.config(Self.bothWarnings, environment: environment))
        #expect(config.warnings.count == 2)
    }

    @Test("warnings come with the error when a config also has errors")
    func warningsAlongsideErrors() {
        switch TestCatalog.load("""
            routes:
              - { path: /implicit, handler: builtin.sleep }
              - { path: /bad, handler: builtin.nope }
            """) {
        case .success: Issue.record("loaded a config with an unknown handler")
        case .failure(let error):
            #expect(error.diagnostics.map(\.severity) == [.warning, .error])
        }
    }
}
