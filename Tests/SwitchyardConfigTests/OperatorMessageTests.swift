import Foundation
import Testing
import SwitchyardConfig
import SwitchyardRouting

/// What an operator reads from `check`: every error in one round (what the
/// build refuses included), no warning beside a route with an error or
/// advising a refused mode, where a misplaced key belongs, what to do about
/// a duplicate route, warnings for a config that serves nothing, counts
/// that read right, and a routes table that lists what `Allow` lists.
@Suite("Operator messages")
struct OperatorMessageTests {
    static let noPlugins = BuildLimits(runnableModes: Set(ExecutionMode.allCases), loadsPlugins: false)
    static let noThreads = BuildLimits(runnableModes: [.sync, .async, .process], loadsPlugins: true)

    static func diagnostics(_ yaml: String, build: BuildLimits = .unlimited) -> [String] {
        let loader = ConfigLoader(catalog: TestCatalog.catalog, environment: [:], cores: 4, build: build)
        do {
            return try loader.load(yaml: yaml, name: "t.yaml", baseDirectory: nil).warnings.map(\.description)
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    // MARK: 1. One round

    @Test("a plugin the build cannot load is reported with the other errors, in file order")
    func pluginRefusedInTheSameRound() {
        let lines = Self.diagnostics("""
            listen: ["127.0.0.1:0"]
            listn: 1
            plugins:
              - { name: reports, path: /usr/lib/libreports.so }
            routes:
              - { path: /a, handler: builtin.nope, mode: sync }
            """, build: Self.noPlugins)
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("t.yaml:2:1: error: unknown key 'listn'"))
        #expect(lines[1] == "t.yaml:4:5: error: plugin 'reports': loading plugins is not available in this build yet; remove it for now")
        #expect(lines[2].hasPrefix("t.yaml:6:26: error: unknown handler 'builtin.nope'"))
    }

    @Test("a plugin the build cannot load is an error even when nothing else is wrong")
    func pluginRefusedAlone() {
        #expect(Self.diagnostics("""
            plugins: [{ name: reports, path: /x.so }]
            routes: [{ path: /a, handler: builtin.echo, mode: sync }]
            """, build: Self.noPlugins) == [
            "t.yaml:1:11: error: plugin 'reports': loading plugins is not available in this build yet; remove it for now",
        ])
        // An unlimited loader (the config layer alone) accepts the declaration.
        #expect(Self.diagnostics("""
            plugins: [{ name: reports, path: /x.so }]
            routes: [{ path: /a, handler: builtin.echo, mode: sync }]
            """).isEmpty)
    }

    @Test("a mode the build refuses is an error where it is declared, among the others")
    func modeRefusedInTheSameRound() {
        #expect(Self.diagnostics("""
            event_loops: none
            routes:
              - { path: /a, handler: builtin.sleep, mode: thread }
              - { path: /b, handler: builtin.sleep, sync_to_thread: true }
              - { path: /c, handler: builtin.sleep, mode: process }
            """, build: Self.noThreads) == [
            "t.yaml:1:14: error: event_loops must be a positive integer up to 4096 or auto; got 'none'",
            "t.yaml:3:47: error: route /a: mode: thread asks for mode thread, which is not available in this build; declare one of: sync, async, process",
            "t.yaml:4:57: error: route /b: sync_to_thread: true asks for mode thread, which is not available in this build; declare one of: sync, async, process",
        ])
    }

    @Test("a refused default_mode is one error where it is set; the routes that take it say nothing")
    func defaultModeRefused() {
        #expect(Self.diagnostics("""
            default_mode: thread
            routes:
              - { path: /a, handler: builtin.sleep }
              - { path: /b, handler: builtin.sleep }
            """, build: Self.noThreads) == [
            "t.yaml:1:15: error: default_mode thread is not available in this build; use sync or process",
        ])
    }

    // MARK: 2. No extra warning

    @Test("a route with an error of its own gets no mode warning beside it", arguments: [
        "{ path: hello, handler: builtin.sleep }",
        "{ path: /a, handler: builtin.sleep, timeout_ms: 0 }",
        "{ path: /a, handler: builtin.text, options: { bdy: x } }",
        "{ path: /a, methods: [GTE], handler: builtin.sleep }",
        "{ path: /a, handler: builtin.delay, mode: thread, allow: [nowhere] }",
    ])
    func noWarningBesideAnError(_ route: String) {
        let lines = Self.diagnostics("routes:\n  - \(route)\n")
        #expect(lines.count == 1, "\(lines)")
        #expect(lines.allSatisfy { $0.contains(": error: ") }, "\(lines)")
    }

    @Test("a duplicate route gets no warning beside its error; the first keeps its own")
    func duplicateGetsNoWarning() {
        let lines = Self.diagnostics("""
            routes:
              - { path: /a, handler: builtin.sleep }
              - { path: /a, handler: builtin.sleep }
            """)
        #expect(lines.count == 2, "\(lines)")
        #expect(lines[0].hasPrefix("t.yaml:2:26: warning: route /a: sync handler builtin.sleep has no declared mode"))
        #expect(lines[1].hasPrefix("t.yaml:3:5: error: route /a can never be told apart from the one at t.yaml:2:5"))
    }

    @Test("a route with no error of its own keeps its warning when another route has one")
    func otherRoutesKeepTheirWarnings() {
        let lines = Self.diagnostics("""
            routes:
              - { path: /a, handler: builtin.sleep }
              - { path: /b, handler: builtin.nope }
            """)
        #expect(lines.count == 2 && lines[0].contains("warning: route /a") && lines[1].contains("error: unknown handler"))
    }

    @Test("no warning or error advises a mode the build refuses")
    func adviceNamesOnlyRunnableModes() {
        let implicit = Self.diagnostics("routes: [{ path: /a, handler: builtin.sleep }]", build: Self.noThreads)
        #expect(implicit.count == 1)
        #expect(implicit[0].contains("declare mode: sync if it never blocks, or mode: process, or set a top-level default_mode"))
        #expect(!implicit[0].contains("thread"), "\(implicit)")
        let everything = Self.diagnostics("routes: [{ path: /a, handler: builtin.sleep }]")
        #expect(everything[0].contains("declare mode: sync if it never blocks, or mode: thread, or set a top-level default_mode"))

        #expect(Self.diagnostics("routes: [{ path: /a, handler: builtin.sleep, mode: async }]", build: Self.noThreads) == [
            "t.yaml:1:52: error: route /a: builtin.sleep is a sync handler and cannot run as mode: async; declare mode: sync or process",
        ])
        #expect(Self.diagnostics("routes: [{ path: /a, handler: builtin.sleep, mode: thred }]", build: Self.noThreads) == [
            "t.yaml:1:52: error: unknown mode 'thred' in route /a; expected one of: sync, async, process",
        ])
        #expect(Self.diagnostics("default_mode: async\nroutes: []", build: Self.noThreads).first ==
            "t.yaml:1:15: error: default_mode cannot be async: default_mode applies to sync handlers that declare no mode, "
            + "and async handlers already run on the event loop without it; use sync or process")
        #expect(Self.diagnostics("mode: sync\nroutes: []", build: Self.noThreads).first ==
            "t.yaml:1:1: error: 'mode' belongs in a route; to set the mode of every route that declares none, use default_mode: sync or process")
    }

    // MARK: 3. Where a key belongs

    static let topKeys = "listen, event_loops, limits, control, reload_on_change, log_level, access_log, default_mode, compression, thread_pool, thread_pools, process_pool, include, plugins, routes"
    static let routeKeys = "path, methods, handler, mode, sync_to_thread, pool, timeout_ms, allow, options, compression"

    static let misplaced: [ErrorCase] = [
        ErrorCase(name: "a limit at the top level", yaml: """
            limits:
            max_body_bytes: 5
            """, expected: "t.yaml:2:1: error: unknown key 'max_body_bytes' in top level; expected one of: \(topKeys); did you mean to indent it under `limits:`?"),
        ErrorCase(name: "a compression key at the top level", yaml: "level: 3",
                  expected: "t.yaml:1:1: error: unknown key 'level' in top level; expected one of: \(topKeys); did you mean to indent it under `compression:`?"),
        ErrorCase(name: "a pool key at the top level", yaml: "queue: 3",
                  expected: "t.yaml:1:1: error: unknown key 'queue' in top level; expected one of: \(topKeys); did you mean to indent it under `thread_pool:` or `process_pool:`?"),
        ErrorCase(name: "max_jobs at the top level", yaml: "max_jobs: 3",
                  expected: "t.yaml:1:1: error: unknown key 'max_jobs' in top level; expected one of: \(topKeys); did you mean to indent it under `process_pool:`?"),
        ErrorCase(name: "a route key at the top level", yaml: """
            routes:
              - path: /a
                handler: builtin.text
            timeout_ms: 500
            """, expected: "t.yaml:4:1: error: unknown key 'timeout_ms' in top level; expected one of: \(topKeys); 'timeout_ms' is a route key: did you mean to indent it under a `routes:` entry (- path: …)?"),
        ErrorCase(name: "a plugins key at the top level", yaml: "name: reports",
                  expected: "t.yaml:1:1: error: unknown key 'name' in top level; expected one of: \(topKeys); did you mean to indent it under a `plugins:` entry (- name: …)?"),
        ErrorCase(name: "a handler option at the top level", yaml: "content_type: text/plain",
                  expected: "t.yaml:1:1: error: unknown key 'content_type' in top level; expected one of: \(topKeys); 'content_type' is a handler option: did you mean to indent it under a route's `options:`?"),
        ErrorCase(name: "a handler option in the route", yaml: """
            routes:
              - path: /a
                handler: builtin.text
                mode: sync
                options:
                body: hi
            """, expected: "t.yaml:6:5: error: unknown key 'body' in route /a; expected one of: \(routeKeys); 'body' is a handler option: did you mean to indent it under `options:`?"),
        ErrorCase(name: "a limit in a route", yaml: """
            routes:
              - { path: /a, handler: builtin.echo, mode: sync, max_body_bytes: 5 }
            """, expected: "t.yaml:2:52: error: unknown key 'max_body_bytes' in route /a; expected one of: \(routeKeys); 'max_body_bytes' belongs under the top-level `limits:` (limits apply to the whole server, not to one route)"),
        ErrorCase(name: "a compression setting in a route", yaml: """
            routes:
              - { path: /a, handler: builtin.echo, mode: sync, min_bytes: 5 }
            """, expected: "t.yaml:2:52: error: unknown key 'min_bytes' in route /a; expected one of: \(routeKeys); 'min_bytes' belongs under the top-level `compression:` (a route takes only compression: true or false)"),
        ErrorCase(name: "a top-level key in a route", yaml: """
            routes:
              - path: /a
                handler: builtin.echo
                mode: sync
                listen: ["127.0.0.1:0"]
            """, expected: "t.yaml:5:5: error: unknown key 'listen' in route /a; expected one of: \(routeKeys); 'listen' is a top-level key: did you mean to outdent it out of a route?"),
        ErrorCase(name: "a top-level key under limits", yaml: """
            limits:
              max_body_bytes: 5
              routes: []
            """, expected: "t.yaml:3:3: error: unknown key 'routes' in limits; expected one of: max_header_bytes, max_body_bytes, max_target_bytes, header_timeout_ms, idle_timeout_ms, max_connections, shutdown_timeout_ms, min_data_rate_bytes_per_s, max_buffered_bytes; 'routes' is a top-level key: did you mean to outdent it out of `limits:`?"),
        ErrorCase(name: "a limit under compression", yaml: """
            compression:
              max_body_bytes: 5
            """, expected: "t.yaml:2:3: error: unknown key 'max_body_bytes' in compression; expected one of: enabled, min_bytes, level; 'max_body_bytes' belongs under the top-level `limits:`"),
        ErrorCase(name: "a route key under thread_pool", yaml: """
            thread_pool:
              size: 4
              timeout_ms: 5
            """, expected: "t.yaml:3:3: error: unknown key 'timeout_ms' in thread_pool; expected one of: size, queue; 'timeout_ms' is a route key: it belongs in a `routes:` entry"),
        ErrorCase(name: "a route key in a plugins entry", yaml: """
            plugins:
              - name: reports
                path: /x.so
                handler: reports.render
            """, expected: "t.yaml:4:5: error: unknown key 'handler' in plugins entry; expected one of: name, path; 'handler' is a route key: it belongs in a `routes:` entry"),
        ErrorCase(name: "a route key in options", yaml: """
            routes:
              - path: /a
                handler: builtin.text
                options:
                  body: hi
                  mode: sync
            """, expected: "t.yaml:6:7: error: unknown option 'mode' for builtin.text; expected one of: body, content_type, status; 'mode' is a route key, not an option: did you mean to outdent it out of `options:`?"),
        ErrorCase(name: "a route key in an included file", yaml: "",
                  expected: ""),  // see includedFileRouteKey
        ErrorCase(name: "a spelling mistake still gets its suggestion", yaml: "limits: { max_bdy_bytes: 5 }",
                  expected: "t.yaml:1:11: error: unknown key 'max_bdy_bytes' in limits; expected one of: max_header_bytes, max_body_bytes, max_target_bytes, header_timeout_ms, idle_timeout_ms, max_connections, shutdown_timeout_ms, min_data_rate_bytes_per_s, max_buffered_bytes; did you mean 'max_body_bytes'?"),
        ErrorCase(name: "an option the route's handler lacks is not sent under options:", yaml: """
            routes:
              - { path: /a, handler: builtin.text, mode: sync, ms: 5 }
            """, expected: "t.yaml:2:52: error: unknown key 'ms' in route /a; expected one of: \(routeKeys)"),
        ErrorCase(name: "an option of the route's own handler is", yaml: """
            routes:
              - { path: /a, handler: builtin.delay, mode: async, ms: 5 }
            """, expected: "t.yaml:2:54: error: unknown key 'ms' in route /a; expected one of: \(routeKeys); 'ms' is a handler option: did you mean to indent it under `options:`?"),
        ErrorCase(name: "sample beside access_log: stderr", yaml: """
            access_log: stderr
            sample: 10
            """, expected: "t.yaml:2:1: error: unknown key 'sample' in top level; expected one of: \(topKeys); to sample the access log, write both in one mapping: access_log: { to: …, sample: N }"),
        ErrorCase(name: "another handler's option is not sent elsewhere", yaml: """
            routes:
              - { path: /a, handler: builtin.text, mode: sync, options: { ms: 5 } }
            """, expected: "t.yaml:2:63: error: unknown option 'ms' for builtin.text; expected one of: body, content_type, status"),
    ].filter { !$0.yaml.isEmpty }

    @Test("a key at the wrong level says where it belongs", arguments: misplaced)
    func misplacedKey(_ errorCase: ErrorCase) {
        #expect(TestCatalog.errors(errorCase.yaml) == [errorCase.expected])
    }

    @Test("a route key at the top of an included file points to routes:")
    func includedFileRouteKey() throws {
        let dir = try TemporaryDirectory()
        let main = try dir.write("main.yaml", "include: [\"r.yaml\"]\nroutes: [{ path: /a, handler: builtin.echo, mode: sync }]\n")
        let included = try dir.write("r.yaml", "routes:\n  - path: /b\n    handler: builtin.echo\nmode: sync\n")
        do {
            _ = try TestCatalog.loader().load(file: main)
            Issue.record("loaded")
        } catch {
            #expect(error.diagnostics.filter { $0.severity == .error }.map(\.description).first ==
                "\(included):4:1: error: unknown key 'mode' in included file; expected one of: plugins, routes; "
                + "'mode' is a route key: did you mean to indent it under a `routes:` entry (- path: …)?")
        }
    }

    static let yamlStructure: [ErrorCase] = [
        ErrorCase(name: "a key deeper than the one above", yaml: """
            limits:
              max_body_bytes: 5
               max_header_bytes: 6
            """, expected: "t.yaml:3:20: error: invalid yaml: mapping values are not allowed in this context; check the indentation: line 3 starts at column 4, deeper than 'max_body_bytes:' on line 2 (column 3), so it reads as part of that value; move it to column 3 to make it a key beside 'max_body_bytes:'"),
        ErrorCase(name: "a route key deeper than the one above", yaml: """
            routes:
              - path: /a
                  handler: builtin.text
            """, expected: "t.yaml:3:14: error: invalid yaml: mapping values are not allowed in this context; check the indentation: line 3 starts at column 7, deeper than 'path:' on line 2 (column 5), so it reads as part of that value; move it to column 5 to make it a key beside 'path:'"),
        ErrorCase(name: "a key between two mappings' columns", yaml: """
            limits:
              max_body_bytes: 5
             idle_timeout_ms: 3
            """, expected: "t.yaml:3:2: error: invalid yaml: did not find expected key (while parsing a block mapping at line 1, column 1); check the indentation: line 3 starts at column 2, where no mapping's keys are (line 1's start at column 1, line 2's at column 3)"),
        ErrorCase(name: "a top-level key indented by one", yaml: """
            listen: ["127.0.0.1:0"]
             event_loops: 2
            """, expected: "t.yaml:2:2: error: invalid yaml: did not find expected key (while parsing a block mapping at line 1, column 1); check the indentation: line 2 starts at column 2, where no mapping's keys are (line 1's start at column 1)"),
        ErrorCase(name: "a route key at the list's column", yaml: """
            routes:
              - path: /a
                handler: builtin.text
              mode: sync
            """, expected: "t.yaml:4:3: error: invalid yaml: did not find expected '-' indicator (while parsing a block collection at line 2, column 3); check the indentation: line 4 is at the column of the list that starts at line 2, but without '- '; indent it to column 5 to continue the entry above, or start a new entry with '- '"),
        ErrorCase(name: "a route key between the list and its keys", yaml: """
            routes:
              - path: /a
               handler: builtin.text
            """, expected: "t.yaml:3:4: error: invalid yaml: did not find expected '-' indicator (while parsing a block collection at line 2, column 3); check the indentation: line 3 starts at column 4, between the list's '- ' at column 3 (line 2) and the keys of line 2 at column 5"),
        ErrorCase(name: "a list item out of line", yaml: """
            routes:
            - path: /a
              handler: builtin.text
             - path: /b
            """, expected: "t.yaml:4:2: error: invalid yaml: did not find expected key (while parsing a block mapping at line 1, column 1); check the indentation: line 4's '- ' is at column 2, but the item on line 2 starts at column 1"),
        ErrorCase(name: "a value holding ': '", yaml: "control: a: b",
                  expected: "t.yaml:1:11: error: invalid yaml: mapping values are not allowed in this context; a value that holds ': ' must be quoted, e.g. key: \"a: b\""),
        ErrorCase(name: "a key without its colon", yaml: """
            routes:
              - path: /a
                handler builtin.text
                mode: sync
            """, expected: "t.yaml:4:5: error: invalid yaml: could not find expected ':' (while scanning a simple key at line 3, column 5); is the ':' after the key on line 3 missing?"),
        ErrorCase(name: "routes written as one mapping", yaml: """
            routes:
              path: /a
              handler: builtin.text
            """, expected: "t.yaml:2:3: error: routes must be a list of route mappings; got a mapping; start each route with '- ', e.g. - path: /hello"),
        ErrorCase(name: "limits written as a list", yaml: """
            limits:
              - max_body_bytes: 5
            """, expected: "t.yaml:2:3: error: limits must be a mapping of keys (max_header_bytes, max_body_bytes, max_target_bytes, header_timeout_ms, idle_timeout_ms, max_connections, shutdown_timeout_ms, min_data_rate_bytes_per_s, max_buffered_bytes); got a list; write its keys without '- '"),
    ]

    @Test("a YAML structure error hints at the indentation", arguments: yamlStructure)
    func structureHint(_ errorCase: ErrorCase) {
        #expect(TestCatalog.errors(errorCase.yaml) == [errorCase.expected])
    }

    // MARK: 5. Configs that serve nothing

    @Test("no routes is a warning, at routes: when it is there")
    func noRoutes() throws {
        let message = "warning: no routes: this config serves nothing but 404s; add routes under routes:"
        #expect(Self.diagnostics("listen: [\"127.0.0.1:0\"]\n") == ["t.yaml:1:1: \(message)"])
        #expect(Self.diagnostics("listen: [\"127.0.0.1:0\"]\nroutes: []\n") == ["t.yaml:2:1: \(message)"])
        #expect(Self.diagnostics("routes:\n") == ["t.yaml:1:1: \(message)"])
        // Routes with errors are routes: their errors say enough.
        #expect(Self.diagnostics("routes: [{ path: /a, handler: builtin.nope }]").count == 1)
        #expect(Self.diagnostics("routes: { path: /a }").count == 1)
        let config = try #require(TestCatalog.config("routes: []"))
        #expect(config.routes.isEmpty && config.warnings.count == 1, "a warning, not an error")
    }

    @Test("an include pattern that matches nothing is a warning where it is written; a missing file name is an error")
    func includeMatchingNothing() throws {
        let dir = try TemporaryDirectory()
        let main = try dir.write("main.yaml", """
            include:
              - "conf.d/*.yaml"
            routes: [{ path: /a, handler: builtin.echo, mode: sync }]
            """)
        let config = try TestCatalog.loader().load(file: main)
        #expect(config.warnings.map(\.description) == [
            "\(main):2:5: warning: include pattern 'conf.d/*.yaml' matches no file, so it adds nothing (looked for \(dir.path)/conf.d/*.yaml)",
        ])
        #expect(Self.diagnostics("include: [\"none.d/*.yaml\"]") == [
            "t.yaml:1:1: warning: no routes: this config serves nothing but 404s; add routes under routes:",
            "t.yaml:1:11: warning: include pattern 'none.d/*.yaml' matches no file, so it adds nothing",
        ])
        #expect(TestCatalog.errors("include: [\"missing.yaml\"]") == [
            "t.yaml:1:11: error: included file 'missing.yaml' does not exist (a pattern with * ? or [ may match nothing; a file name must)",
        ])
    }

    // MARK: 6. Counts

    @Test("counts read right")
    func plurals() {
        #expect(Plural.count(0, "route") == "0 routes")
        #expect(Plural.count(1, "route") == "1 route")
        #expect(Plural.count(2, "warning") == "2 warnings")
        #expect(Plural.count(1, "more error", "more errors") == "1 more error")
        let location = SourceLocation(file: "t.yaml", line: 1, column: 1)
        let one = ConfigError([Diagnostic(.error, location, "a")])
        #expect(one.counts == "1 error, 0 warnings")
        #expect(one.firstErrorAndCount == "t.yaml:1:1: error: a")
        let two = ConfigError([Diagnostic(.warning, location, "w"), Diagnostic(.error, location, "a"), Diagnostic(.error, location, "b")])
        #expect(two.counts == "2 errors, 1 warning")
        #expect(two.firstErrorAndCount == "t.yaml:1:1: error: a (and 1 more error; switchyard check lists both)")
        let three = ConfigError(two.diagnostics + [Diagnostic(.error, location, "c")])
        #expect(three.firstErrorAndCount == "t.yaml:1:1: error: a (and 2 more errors; switchyard check lists them all)")
    }

    // MARK: 8. The routes table lists what Allow lists

    @Test("METHODS shows what a route answers, as Allow names it", arguments: [
        ("[GET]", "GET,HEAD"), ("[HEAD]", "HEAD"), ("[POST]", "POST"), ("[GET, POST]", "GET,HEAD,POST"),
        ("[DELETE, get, OPTIONS]", "GET,HEAD,DELETE,OPTIONS"), ("[PUT, PATCH, TRACE, CONNECT]", "PUT,PATCH,TRACE,CONNECT"),
    ])
    func methodsColumnMatchesAllow(_ declared: String, _ shown: String) throws {
        let config = try #require(TestCatalog.config("routes: [{ path: /a, methods: \(declared), handler: builtin.echo, mode: sync }]"))
        let row = RouteTable.render(config).split(separator: "\n")[1]
        let column = String(row.split(separator: " ")[0])
        #expect(column == shown)
        // The 405's Allow is the description of the served set: the same names, in the same order.
        let allow = config.routes[0].methods.served.description
        #expect(allow.replacingOccurrences(of: ", ", with: ",") == column)
    }
}
