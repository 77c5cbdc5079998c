import Testing
import SwitchyardConfig

/// One config with one mistake, and the exact diagnostic it must give.
struct ErrorCase: Sendable, CustomTestStringConvertible {
    var name: String
    var yaml: String
    var expected: String
    var testDescription: String { name }
}

@Suite("Config errors: one mistake, one exact diagnostic")
struct ConfigErrorTests {
    static let topKeys = "listen, event_loops, limits, control, reload_on_change, log_level, access_log, default_mode, compression, thread_pool, thread_pools, process_pool, include, plugins, routes"
    static let routeKeys = "path, methods, handler, mode, sync_to_thread, pool, timeout_ms, allow, options, compression"

    static let cases: [ErrorCase] = [
        ErrorCase(name: "typo'd top-level key", yaml: """
            listen: ["127.0.0.1:0"]
            listn: ["127.0.0.1:0"]
            """, expected: "t.yaml:2:1: error: unknown key 'listn' in top level; expected one of: \(topKeys); did you mean 'listen'?"),
        ErrorCase(name: "unknown key with nothing close", yaml: """
            workers: 4
            """, expected: "t.yaml:1:1: error: unknown key 'workers' in top level; expected one of: \(topKeys)"),
        ErrorCase(name: "event_loops not a number", yaml: """
            event_loops: lots
            """, expected: "t.yaml:1:14: error: event_loops must be a positive integer up to 4096 or auto; got 'lots'"),
        ErrorCase(name: "event_loops zero", yaml: """
            event_loops: 0
            """, expected: "t.yaml:1:14: error: event_loops must be a positive integer up to 4096 or auto; got 0"),
        ErrorCase(name: "limit of the wrong type", yaml: """
            limits:
              max_body_bytes: big
            """, expected: "t.yaml:2:19: error: limits.max_body_bytes must be a positive integer up to 2147483647; got 'big'"),
        ErrorCase(name: "negative limit", yaml: """
            limits: { header_timeout_ms: -5 }
            """, expected: "t.yaml:1:30: error: limits.header_timeout_ms must be a positive integer up to 2147483647; got -5"),
        ErrorCase(name: "unknown key in limits", yaml: """
            limits:
              max_bdy_bytes: 10
            """, expected: "t.yaml:2:3: error: unknown key 'max_bdy_bytes' in limits; expected one of: max_header_bytes, max_body_bytes, max_target_bytes, header_timeout_ms, idle_timeout_ms, max_connections, shutdown_timeout_ms, min_data_rate_bytes_per_s, max_buffered_bytes; did you mean 'max_body_bytes'?"),
        ErrorCase(name: "limits not a mapping", yaml: """
            limits: 5
            """, expected: "t.yaml:1:9: error: limits must be a mapping of keys (max_header_bytes, max_body_bytes, max_target_bytes, header_timeout_ms, idle_timeout_ms, max_connections, shutdown_timeout_ms, min_data_rate_bytes_per_s, max_buffered_bytes); got 5"),
        ErrorCase(name: "compression level out of range", yaml: """
            compression: { level: 12 }
            """, expected: "t.yaml:1:23: error: compression.level must be an integer from 1 to 9; got 12"),
        ErrorCase(name: "compression enabled not a bool", yaml: """
            compression:
              enabled: maybe
            """, expected: "t.yaml:2:12: error: compression.enabled must be true or false; got 'maybe'"),
        ErrorCase(name: "unknown key in compression", yaml: """
            compression: { enable: true }
            """, expected: "t.yaml:1:16: error: unknown key 'enable' in compression; expected one of: enabled, min_bytes, level; did you mean 'enabled'?"),
        ErrorCase(name: "thread_pool size zero", yaml: """
            thread_pool: { size: 0 }
            """, expected: "t.yaml:1:22: error: thread_pool.size must be a positive integer up to 65536 or auto; got 0"),
        ErrorCase(name: "unknown key in thread_pools entry", yaml: """
            thread_pools:
              reports: { size: 2, queu: 4 }
            """, expected: "t.yaml:2:23: error: unknown key 'queu' in thread_pools.reports; expected one of: size, queue; did you mean 'queue'?"),
        ErrorCase(name: "unknown key in process_pool", yaml: """
            process_pool:
              workers: 2
            """, expected: "t.yaml:2:3: error: unknown key 'workers' in process_pool; expected one of: size, queue, max_jobs"),
        ErrorCase(name: "control not a string", yaml: """
            control: [a, b]
            """, expected: "t.yaml:1:10: error: control must be a string; got a list"),
        ErrorCase(name: "listen without a port", yaml: """
            listen: ["127.0.0.1:0", "127.0.0.1"]
            """, expected: "t.yaml:1:25: error: listen address '127.0.0.1' has no port; expected host:port, [v6]:port or unix:/path"),
        ErrorCase(name: "listen with a bad port", yaml: """
            listen: "127.0.0.1:70000"
            """, expected: "t.yaml:1:9: error: listen address '127.0.0.1:70000' has port '70000'; expected 0 to 65535 (0 picks any free port)"),
        ErrorCase(name: "listen twice", yaml: """
            listen:
              - 127.0.0.1:8080
              - localhost:8080
            """, expected: "t.yaml:3:5: error: listen address 'localhost:8080' is 127.0.0.1:8080 again (first at t.yaml:2:5); give each address once"),
        ErrorCase(name: "yaml syntax error", yaml: """
            listen: ["127.0.0.1:0"
            routes: []
            """, expected: "t.yaml:2:1: error: invalid yaml: did not find expected ',' or ']' (while parsing a flow sequence at line 1, column 9)"),
        ErrorCase(name: "tab in the indentation", yaml: "limits:\n\tmax_body_bytes: 5\n",
                  expected: "t.yaml:2:1: error: invalid yaml: found character that cannot start any token (while scanning for the next token at line 2, column 1); yaml is indented with spaces, not tabs"),
        ErrorCase(name: "unquoted {param} in a flow mapping", yaml: """
            routes:
              - { path: /users/{id}, handler: builtin.echo, mode: sync }
            """, expected: "t.yaml:2:20: error: invalid yaml: did not find expected ',' or '}' (while parsing a flow mapping at line 2, column 5); inside { … } quote a path with parameters: path: \"/users/{id}\""),
        ErrorCase(name: "two documents", yaml: """
            event_loops: 1
            ---
            event_loops: 2
            """, expected: "t.yaml:2:1: error: invalid yaml: a config is one document; a second one starts here"),
        ErrorCase(name: "key given twice", yaml: """
            event_loops: 1
            event_loops: 2
            """, expected: "t.yaml:2:1: error: key 'event_loops' appears more than once in one mapping; give it once (first at line 1)"),
        ErrorCase(name: "top level not a mapping", yaml: """
            - listen
            """, expected: "t.yaml:1:1: error: top level must be a mapping of keys (\(topKeys)); got a list; write its keys without '- '"),
        ErrorCase(name: "routes not a list", yaml: """
            routes: /hello
            """, expected: "t.yaml:1:9: error: routes must be a list of route mappings; got '/hello'"),
        ErrorCase(name: "unknown key in a route", yaml: """
            routes:
              - { path: /a, handler: builtin.echo, mdoe: sync }
            """, expected: "t.yaml:2:40: error: unknown key 'mdoe' in route /a; expected one of: \(routeKeys); did you mean 'mode'?"),
        ErrorCase(name: "route without a handler", yaml: """
            routes:
              - { path: /a, mode: sync }
            """, expected: "t.yaml:2:5: error: route /a needs a handler, e.g. handler: builtin.text"),
        ErrorCase(name: "unknown handler", yaml: """
            routes:
              - path: /a
                handler: builtin.txt
                mode: sync
            """, expected: "t.yaml:3:14: error: unknown handler 'builtin.txt'; builtin has: cpu, delay, echo, health, ready, sleep, text; did you mean 'builtin.text'?"),
        ErrorCase(name: "handler not PLUGIN.FUNCTION", yaml: """
            routes:
              - { path: /a, handler: text, mode: sync }
            """, expected: "t.yaml:2:26: error: handler 'text' must be PLUGIN.FUNCTION, e.g. builtin.text"),
        ErrorCase(name: "handler of an undeclared plugin", yaml: """
            routes:
              - { path: /a, handler: reports.render, mode: thread }
            """, expected: "t.yaml:2:26: error: unknown plugin 'reports' in handler 'reports.render'; declare it under plugins: or use a builtin.* handler"),
        ErrorCase(name: "handler of a shared-library plugin", yaml: """
            plugins:
              - { name: reports, path: /usr/lib/switchyard/plugins/libreports.so }
            routes:
              - { path: /a, handler: reports.render, mode: thread }
            """, expected: "t.yaml:4:26: error: handler 'reports.render' is in plugin 'reports', whose handlers cannot be used: loading shared-library plugins is not supported yet"),
        ErrorCase(name: "unknown key in a plugins entry", yaml: """
            plugins:
              - { name: reports, path: /x.so, version: 2 }
            """, expected: "t.yaml:2:35: error: unknown key 'version' in plugins entry; expected one of: name, path"),
        ErrorCase(name: "unknown option", yaml: """
            routes:
              - path: /a
                handler: builtin.text
                mode: sync
                options: { bdy: "x" }
            """, expected: "t.yaml:5:16: error: unknown option 'bdy' for builtin.text; expected one of: body, content_type, status; did you mean 'body'?"),
        ErrorCase(name: "option on a handler that takes none", yaml: """
            routes:
              - { path: /a, handler: builtin.echo, mode: sync, options: { body: x } }
            """, expected: "t.yaml:2:63: error: unknown option 'body': builtin.echo takes no options"),
        ErrorCase(name: "option of the wrong type", yaml: """
            routes:
              - { path: /a, handler: builtin.text, mode: sync, options: { status: ok } }
            """, expected: "t.yaml:2:71: error: option 'status' of builtin.text must be an integer from 200 to 599; got 'ok'"),
        ErrorCase(name: "string option given a number", yaml: """
            routes:
              - { path: /a, handler: builtin.text, mode: sync, options: { body: 42 } }
            """, expected: "t.yaml:2:69: error: option 'body' of builtin.text must be a string; got 42"),
        ErrorCase(name: "bad route path points at the character", yaml: """
            routes:
              - { path: "/a/{x", handler: builtin.echo, mode: sync }
            """, expected: "t.yaml:2:17: error: bad route path '/a/{x': a parameter segment is written {name} or {name...}"),
        ErrorCase(name: "route path without a slash", yaml: """
            routes:
              - path: hello
                handler: builtin.echo
                mode: sync
            """, expected: "t.yaml:2:11: error: bad route path 'hello': a route path must start with '/'"),
        ErrorCase(name: "unknown method", yaml: """
            routes:
              - { path: /a, methods: [GET, PSOT], handler: builtin.echo, mode: sync }
            """, expected: "t.yaml:2:32: error: unknown method 'PSOT' in route /a; expected one of: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE, CONNECT; did you mean 'POST'?"),
        ErrorCase(name: "unknown mode", yaml: """
            routes:
              - { path: /a, handler: builtin.echo, mode: threads }
            """, expected: "t.yaml:2:46: error: unknown mode 'threads' in route /a; expected one of: sync, async, thread, process; did you mean 'thread'?"),
        ErrorCase(name: "bad CIDR", yaml: """
            routes:
              - { path: /a, handler: builtin.echo, mode: sync, allow: [127.0.0.0/8, 10.0.0.0/33] }
            """, expected: "t.yaml:2:73: error: bad allow entry in route /a: '10.0.0.0/33' has prefix length '33'; expected 0 to 32"),
        ErrorCase(name: "allow entry not an address", yaml: """
            routes:
              - { path: /a, handler: builtin.echo, mode: sync, allow: ["::1", localhost] }
            """, expected: "t.yaml:2:67: error: bad allow entry in route /a: 'localhost' is not a valid address; expected an address or a network such as 127.0.0.0/8 or ::1"),
        ErrorCase(name: "timeout_ms not positive", yaml: """
            routes:
              - { path: /a, handler: builtin.echo, mode: sync, timeout_ms: 0 }
            """, expected: "t.yaml:2:64: error: timeout_ms of route /a must be a positive integer up to 2147483647; got 0"),
        ErrorCase(name: "route compression not a bool", yaml: """
            routes:
              - { path: /a, handler: builtin.echo, mode: sync, compression: gzip }
            """, expected: "t.yaml:2:65: error: compression of route /a must be true or false; got 'gzip'"),
        ErrorCase(name: "sync mode on an async handler", yaml: """
            routes:
              - { path: /a, handler: builtin.delay, mode: sync }
            """, expected: "t.yaml:2:47: error: route /a: builtin.delay is an async handler and cannot run as mode: sync; declare mode: async or leave mode out"),
        ErrorCase(name: "async mode on a sync handler", yaml: """
            routes:
              - { path: /a, handler: builtin.sleep, mode: async }
            """, expected: "t.yaml:2:47: error: route /a: builtin.sleep is a sync handler and cannot run as mode: async; declare mode: sync, thread or process"),
        ErrorCase(name: "process mode on an async handler", yaml: """
            routes:
              - { path: /a, handler: builtin.delay, mode: process }
            """, expected: "t.yaml:2:47: error: route /a: async handler builtin.delay cannot run in a worker process (mode: process); declare mode: async"),
        ErrorCase(name: "sync_to_thread false is mode sync, so an async handler refuses it", yaml: """
            routes:
              - { path: /a, handler: builtin.delay, sync_to_thread: false }
            """, expected: "t.yaml:2:57: error: route /a: builtin.delay is an async handler and cannot run as sync_to_thread: false; declare mode: async or leave mode out"),
        ErrorCase(name: "sync_to_thread disagreeing with mode", yaml: """
            routes:
              - { path: /a, handler: builtin.sleep, mode: sync, sync_to_thread: true }
            """, expected: "t.yaml:2:69: error: sync_to_thread: true means mode: thread, which disagrees with mode: sync; give one of them"),
        ErrorCase(name: "unknown pool", yaml: """
            thread_pools: { reports: { size: 2 } }
            routes:
              - { path: /a, handler: builtin.sleep, mode: thread, pool: report }
            """, expected: "t.yaml:3:61: error: unknown thread pool 'report'; thread_pools defines: reports; did you mean 'reports'?"),
        ErrorCase(name: "pool on a route not in thread mode", yaml: """
            thread_pools: { reports: { size: 2 } }
            routes:
              - { path: /a, handler: builtin.sleep, mode: process, pool: reports }
            """, expected: "t.yaml:3:62: error: pool applies only to mode: thread; route /a declares mode: process"),
        ErrorCase(name: "plugin declared twice", yaml: """
            plugins:
              - { name: reports, path: /a.so }
              - { name: reports, path: /b.so }
            """, expected: "t.yaml:3:5: error: plugin 'reports' is declared twice (first at t.yaml:2:5)"),
        ErrorCase(name: "listen with no address", yaml: """
            listen: []
            """, expected: "t.yaml:1:9: error: listen names no address: a server with nothing to listen on serves nothing"),
        ErrorCase(name: "text status outside 200-599", yaml: """
            routes:
              - { path: /a, handler: builtin.text, mode: sync, options: { status: 600 } }
            """, expected: "t.yaml:2:71: error: option 'status' of builtin.text must be an integer from 200 to 599; got 600"),
        ErrorCase(name: "content_type that would inject a header", yaml: """
            routes:
              - { path: /a, handler: builtin.text, mode: sync, options: { content_type: "a\\r\\nSet-Cookie: x" } }
            """, expected: "t.yaml:2:77: error: option 'content_type' of builtin.text goes into a header: no control characters (CR, LF, …)"),
        ErrorCase(name: "negative max_lag_ms", yaml: """
            routes:
              - { path: /a, handler: builtin.health, mode: sync, options: { max_lag_ms: -1 } }
            """, expected: "t.yaml:2:77: error: option 'max_lag_ms' of builtin.health must be a positive integer up to 86400000; got -1"),
        ErrorCase(name: "a key given twice is reported where it repeats", yaml: """
            routes:
              - path: /a
                handler: builtin.text
                mode: sync
                handler: builtin.echo
            """, expected: "t.yaml:5:5: error: key 'handler' appears more than once in one mapping; give it once (first at line 3)"),
    ]

    @Test("each mistake gives its exact FILE:LINE:COL diagnostic", arguments: cases)
    func exactDiagnostic(_ errorCase: ErrorCase) {
        let errors = TestCatalog.errors(errorCase.yaml)
        #expect(errors == [errorCase.expected])
    }

    /// Files saved on Windows end their lines with CRLF (one Character in
    /// Swift): the same mistakes get the same positions and hints.
    @Test("a CRLF file gives the same diagnostic as an LF one", arguments: cases + OperatorMessageTests.yamlStructure)
    func crlfDiagnostic(_ errorCase: ErrorCase) {
        let crlf = errorCase.yaml.replacingOccurrences(of: "\n", with: "\r\n")
        #expect(TestCatalog.errors(crlf) == [errorCase.expected])
    }

    @Test("a byte-order mark at the start of a file is not content")
    func byteOrderMark() throws {
        let dir = try TemporaryDirectory()
        let good = try dir.write("good.yaml", "\u{FEFF}routes: [{ path: /a, handler: builtin.echo, mode: sync }]\n")
        #expect(try TestCatalog.loader().load(file: good).routes.count == 1)
        let bad = try dir.write("bad.yaml", "\u{FEFF}listn: 1\n")
        do {
            _ = try TestCatalog.loader().load(file: bad)
            Issue.record("loaded a config with an unknown key")
        } catch {
            #expect(error.diagnostics.first?.description.hasPrefix("\(bad):1:1: error: unknown key 'listn'") == true, "\(error)")
        }
    }

    @Test("every error is reported, in file order, not just the first")
    func collectsAllErrors() {
        let errors = TestCatalog.errors("""
            listen: ["127.0.0.1"]
            event_loops: many
            limits:
              max_connections: none
            routes:
              - { path: /a, handler: builtin.nope, mode: sync }
              - { path: /b, handler: builtin.echo, mode: sync, bogus: 1 }
            """)
        #expect(errors.count == 5)
        let lines = errors.map { $0.split(separator: ":")[1] }
        #expect(lines == ["1", "2", "4", "6", "7"])
    }

    @Test("a missing file is an error naming it")
    func missingFile() {
        #expect(throws: ConfigError.self) { try TestCatalog.loader().load(file: "/nonexistent/switchyard.yaml") }
        do {
            _ = try TestCatalog.loader().load(file: "/nonexistent/switchyard.yaml")
        } catch {
            #expect(error.description == "/nonexistent/switchyard.yaml:1:1: error: cannot read config: no such file or directory")
        }
    }

    @Test("a file's errors carry its path")
    func fileErrorsCarryPath() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("switchyard.yaml", "listen: [\"127.0.0.1:0\"]\nlistn: [\"127.0.0.1:0\"]\n")
        do {
            _ = try TestCatalog.loader().load(file: path)
            Issue.record("loaded a config with an unknown key")
        } catch {
            #expect(error.diagnostics.first { $0.severity == .error }?.description.hasPrefix("\(path):2:1: error: unknown key 'listn'") == true)
        }
    }
}
