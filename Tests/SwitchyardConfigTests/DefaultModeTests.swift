import Testing
import SwitchyardConfig

@Suite("default_mode: the mode of routes whose sync handler declares none")
struct DefaultModeTests {
    @Test("applies to a sync handler that declares nothing, without the implicit sync warning",
          arguments: [ExecutionMode.sync, .thread, .process])
    func appliesToSyncHandlers(mode: ExecutionMode) throws {
        let config = try #require(TestCatalog.config("""
            default_mode: \(mode.rawValue)
            routes:
              - { path: /a, handler: builtin.sleep }
            """))
        #expect(config.defaultMode == mode)
        let route = try #require(config.routes.first)
        #expect(route.declaredMode == nil)
        #expect(route.effectiveMode == mode)
        #expect(route.defaultModeApplied)
        #expect(route.pool == nil)
        #expect(route.warnings.isEmpty && config.warnings.isEmpty)
    }

    @Test("without it, the same route warns and runs on the loop")
    func unsetWarns() throws {
        let config = try #require(TestCatalog.config("routes: [{ path: /a, handler: builtin.sleep }]"))
        #expect(config.defaultMode == nil)
        #expect(config.routes[0].effectiveMode == .sync && !config.routes[0].defaultModeApplied)
        #expect(config.warnings.count == 1 && config.warnings[0].message.contains("implicit sync mode"))
    }

    @Test("a route's own mode (or sync_to_thread) wins over it")
    func declaredWins() throws {
        let config = try #require(TestCatalog.config("""
            default_mode: process
            routes:
              - { path: /a, handler: builtin.sleep, mode: sync }
              - { path: /b, handler: builtin.sleep, sync_to_thread: true }
              - { path: /c, handler: builtin.sleep, sync_to_thread: false }
              - { path: /d, handler: builtin.delay, mode: async }
            """))
        #expect(config.routes.map(\.effectiveMode) == [.sync, .thread, .sync, .async])
        #expect(config.routes.map(\.declaredMode) == [.sync, .thread, .sync, .async])
        #expect(config.routes.allSatisfy { !$0.defaultModeApplied })
        #expect(config.warnings.isEmpty)
    }

    @Test("an async handler that declares nothing stays async, whatever the default", arguments: [ExecutionMode.sync, .thread, .process])
    func asyncStaysAsync(mode: ExecutionMode) throws {
        let config = try #require(TestCatalog.config("""
            default_mode: \(mode.rawValue)
            routes:
              - { path: /a, handler: builtin.delay }
            """))
        let route = try #require(config.routes.first)
        #expect(route.effectiveMode == .async && route.declaredMode == nil && !route.defaultModeApplied)
        #expect(config.warnings.isEmpty)
    }

    @Test("the thread-with-async warning still shows for a declared mode: thread")
    func threadWithAsyncStillWarns() throws {
        let config = try #require(TestCatalog.config("""
            default_mode: thread
            routes:
              - { path: /a, handler: builtin.delay, mode: thread }
            """))
        #expect(config.warnings.count == 1 && config.warnings[0].message.contains("has no effect"))
    }

    @Test("pool: is valid when default_mode makes the route thread mode")
    func poolWithDefaultThread() throws {
        let config = try #require(TestCatalog.config("""
            default_mode: thread
            thread_pools: { reports: { size: 2 } }
            routes:
              - { path: /a, handler: builtin.sleep, pool: reports }
              - { path: /b, handler: builtin.echo, pool: default }
            """))
        #expect(config.routes[0].effectiveMode == .thread && config.routes[0].pool == "reports")
        #expect(config.routes[1].effectiveMode == .thread && config.routes[1].pool == nil)
        #expect(config.warnings.isEmpty)
    }

    static let errorCases: [ErrorCase] = [
        ErrorCase(name: "default_mode: async", yaml: """
            listen: ["127.0.0.1:0"]
            default_mode: async
            """, expected: "t.yaml:2:15: error: default_mode cannot be async: default_mode applies to sync handlers that declare no mode, "
                + "and async handlers already run on the event loop without it; use sync, thread or process"),
        ErrorCase(name: "unknown default_mode", yaml: """
            default_mode: thred
            """, expected: "t.yaml:1:15: error: unknown mode 'thred' for default_mode; expected one of: sync, thread, process; did you mean 'thread'?"),
        ErrorCase(name: "default_mode as a list", yaml: """
            default_mode: [sync]
            """, expected: "t.yaml:1:15: error: default_mode must be sync, thread or process; got a list"),
        ErrorCase(name: "default_mode with no value", yaml: """
            default_mode:
            """, expected: "t.yaml:1:14: error: default_mode must be sync, thread or process; got nothing"),
        ErrorCase(name: "default_mode misspelt", yaml: """
            default_mod: thread
            """, expected: "t.yaml:1:1: error: unknown key 'default_mod' in top level; expected one of: \(ConfigErrorTests.topKeys); did you mean 'default_mode'?"),
        ErrorCase(name: "mode at the top level", yaml: """
            mode: thread
            """, expected: "t.yaml:1:1: error: 'mode' belongs in a route; to set the mode of every route that declares none, use default_mode: sync, thread or process"),
        ErrorCase(name: "default_mode in a route", yaml: """
            routes:
              - { path: /a, handler: builtin.sleep, default_mode: thread }
            """, expected: "t.yaml:2:41: error: default_mode is a top-level key; a route declares its own mode with mode:"),
        ErrorCase(name: "pool when default_mode is process", yaml: """
            default_mode: process
            thread_pools: { reports: { size: 2 } }
            routes:
              - { path: /a, handler: builtin.sleep, pool: reports }
            """, expected: "t.yaml:4:47: error: pool applies only to mode: thread; route /a declares no mode and default_mode is process"),
        ErrorCase(name: "pool on an async handler under default_mode: thread", yaml: """
            default_mode: thread
            thread_pools: { reports: { size: 2 } }
            routes:
              - { path: /a, handler: builtin.delay, pool: reports }
            """, expected: "t.yaml:4:47: error: pool applies only to mode: thread; route /a declares no mode, "
                + "and default_mode applies to sync handlers only: async handler builtin.delay runs on the event loop"),
        ErrorCase(name: "pool with no mode and no default_mode", yaml: """
            thread_pools: { reports: { size: 2 } }
            routes:
              - { path: /a, handler: builtin.sleep, pool: reports }
            """, expected: "t.yaml:3:47: error: pool applies only to mode: thread; route /a declares no mode"),
    ]

    @Test("mistakes give their exact FILE:LINE:COL diagnostic", arguments: errorCases)
    func exactDiagnostic(_ errorCase: ErrorCase) {
        #expect(TestCatalog.errors(errorCase.yaml) == [errorCase.expected])
    }

    @Test("an included file may not set it")
    func notInIncludes() throws {
        let dir = try TemporaryDirectory()
        let routes = try dir.write("routes.d/a.yaml", "default_mode: thread\nroutes: []\n")
        let main = try dir.write("main.yaml", "include: [\"routes.d/*.yaml\"]\n")
        do {
            _ = try TestCatalog.loader().load(file: main)
            Issue.record("an included default_mode was accepted")
        } catch {
            #expect(error.diagnostics.map(\.description) == [
                "\(main):1:1: warning: no routes: this config serves nothing but 404s; add routes under routes: "
                    + "(its included files have none either)",
                "\(routes):1:1: error: 'default_mode' is not allowed in an included file; an included file holds only routes: and plugins:",
            ])
        }
    }
}
