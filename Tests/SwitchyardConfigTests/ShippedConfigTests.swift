import Foundation
import Testing
import SwitchyardConfig
import SwitchyardRouting

@Suite("The configs we ship")
struct ShippedConfigTests {
    /// The demo route of each mode the contract asks for, as (path, handler, methods, mode).
    static let demoRoutes: [(String, String, MethodSet, ExecutionMode)] = [
        ("/hello", "builtin.text", [.get, .head], .sync),
        ("/echo", "builtin.echo", [.get, .head, .post], .sync),
        ("/delay", "builtin.delay", [.get, .head], .async),
        ("/sleep", "builtin.sleep", [.get, .head], .thread),
        ("/cpu", "builtin.cpu", [.get, .head], .process),
        ("/echo/thread", "builtin.echo", [.get, .post], .thread),
        ("/echo/process", "builtin.echo", [.get, .post], .process),
    ]

    static func expectDemoRoutes(_ config: Config) {
        let routes = Dictionary(uniqueKeysWithValues: config.routes.map { ($0.path, $0) })
        for (path, handler, methods, mode) in demoRoutes {
            let route = routes[path]
            #expect(route?.handler == handler, "\(path)")
            #expect(route?.methods == methods, "\(path)")
            #expect(route?.declaredMode == mode && route?.effectiveMode == mode, "\(path)")
        }
        for path in ["/livez", "/healthz", "/readyz"] {
            #expect(routes[path]?.declaredMode == .sync, "\(path)")
        }
        #expect(routes["/livez"]?.handler == "builtin.health")
        #expect(routes["/healthz"]?.handler == "builtin.health")
        #expect(routes["/readyz"]?.handler == "builtin.ready")
        #expect(routes["/hello"]?.options["body"] == .string("hello\n"))
        #expect(Set(config.routes.map(\.effectiveMode)) == Set(ExecutionMode.allCases))
        #expect(config.routes.allSatisfy { !$0.defaultModeApplied })
    }

    @Test("the embedded default loads with no errors and no warnings, with a demo route for every mode")
    func embeddedDefault() throws {
        let config = try TestCatalog.loader().load(yaml: EmbeddedDefault.yaml, name: EmbeddedDefault.name, baseDirectory: nil)
        #expect(config.source == "<embedded default>")
        #expect(config.warnings.isEmpty)
        #expect(config.listen == [.ipv4(host: "127.0.0.1", port: 8080)])
        #expect(config.defaultMode == nil)
        Self.expectDemoRoutes(config)
        #expect(config.routes.allSatisfy { $0.methods.contains(.get) && $0.declaredMode != nil && $0.pool == nil })
        #expect(!EmbeddedDefault.yaml.contains("refuse"))
    }

    /// The handlers the plugins layer registers (its tests check that
    /// `Builtins.catalog` has exactly these), so the shipped configs also
    /// pass `switchyard check` with the real binary.
    static let todaysCatalog = HandlerCatalog(entries: TestCatalog.catalog.entries.filter {
        ["builtin.text", "builtin.echo", "builtin.health", "builtin.ready",
         "builtin.sleep", "builtin.delay", "builtin.cpu"].contains($0.key)
    })

    @Test("the shipped configs use only handlers the plugins layer has today")
    func todaysHandlers() throws {
        let loader = ConfigLoader(catalog: Self.todaysCatalog, environment: [:], cores: 2)
        _ = try loader.load(yaml: EmbeddedDefault.yaml, name: EmbeddedDefault.name, baseDirectory: nil)
        _ = try loader.load(file: Self.referencePath)
    }

    static let referencePath = repositoryRoot + "/config/switchyard.yaml"

    @Test("config/switchyard.yaml loads with its routes.d include, with no errors or warnings")
    func referenceConfig() throws {
        let config = try TestCatalog.loader().load(file: Self.referencePath)
        #expect(config.warnings.isEmpty)
        #expect(config.source == Self.referencePath)
        Self.expectDemoRoutes(config)
        let included = config.routes.filter { $0.location.file.hasSuffix("config/routes.d/example.yaml") }
        #expect(included.map(\.path) == ["/files/{rest...}", "/items/{id}"])
        #expect(config.threadPools["reports"] == PoolSettings(size: 4, queue: 16))
        #expect(config.processPool == PoolSettings(size: nil, queue: 256, maxJobs: 0))
        // The named pool is used by one route; the rest of thread mode uses thread_pool.
        #expect(config.routes.filter { $0.pool != nil }.map(\.path) == ["/sleep"])
        #expect(config.routes.first { $0.path == "/sleep" }?.pool == "reports")
        #expect(config.defaultMode == nil)
    }

    @Test("config/switchyard.yaml no longer says thread or process mode is refused")
    func referenceRunsEveryMode() throws {
        let text = try String(contentsOfFile: Self.referencePath, encoding: .utf8)
        #expect(!text.contains("not yet runnable") && !text.contains("refuse them"))
        // Its commented default_mode is valid when uncommented.
        let uncommented = text.replacingOccurrences(of: "# default_mode:", with: "default_mode:")
        let config = try TestCatalog.loader().load(yaml: uncommented, name: "uncommented.yaml",
                                                   baseDirectory: repositoryRoot + "/config")
        #expect(config.defaultMode != nil)
    }

    @Test("config/switchyard.yaml shows every key, each with a comment")
    func referenceShowsEveryKey() throws {
        let text = try String(contentsOfFile: Self.referencePath, encoding: .utf8)
        let keys = [
            "listen", "event_loops", "limits", "max_header_bytes", "max_body_bytes", "max_target_bytes",
            "header_timeout_ms", "idle_timeout_ms", "max_connections", "shutdown_timeout_ms",
            "min_data_rate_bytes_per_s", "max_buffered_bytes", "control", "reload_on_change", "log_level", "access_log", "to", "sample",
            "default_mode",
            "compression", "enabled", "min_bytes", "level", "thread_pool", "size", "queue", "thread_pools",
            "process_pool", "max_jobs", "include", "plugins", "name", "path", "routes", "methods", "handler", "mode",
            "sync_to_thread", "pool", "timeout_ms", "allow", "options",
        ]
        for key in keys {
            let line = text.split(separator: "\n").first { line in
                line.range(of: "(^|[\\s{,#-])\(key):", options: .regularExpression) != nil
            }
            #expect(line != nil, "key '\(key)' does not appear")
        }
        // Each key that is set on its own line carries a comment there or just above it.
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for (index, line) in lines.enumerated() where line.range(of: "^\\s*[a-z_]+:", options: .regularExpression) != nil {
            let above = index > 0 ? lines[index - 1].trimmingCharacters(in: .whitespaces) : ""
            #expect(line.contains("#") || above.hasPrefix("#") || line.hasPrefix("    "),
                    "line \(index + 1) has no comment: \(line)")
        }
    }

    @Test("the reference config's routes table shows each mode's pool")
    func shippedTables() throws {
        let config = try TestCatalog.loader().load(file: Self.referencePath)
        let rows = RouteTable.render(config).split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        let byPath = Dictionary(rows.dropFirst().filter { $0.count >= 7 }.map { ($0[1], $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byPath["/sleep"]?[5] == "reports")
        #expect(byPath["/echo/thread"]?[5] == "default")
        #expect(byPath["/cpu"]?[5] == "process")
        #expect(byPath["/delay"]?[5] == "loop")
        #expect(byPath["/hello"]?[5] == "loop")
    }
}

@Suite("Which config is used")
struct ConfigSourceTests {
    @Test("--config, else $SWITCHYARD_CONFIG, else /etc/switchyard/switchyard.yaml, else the embedded default")
    func order() {
        let env = ["SWITCHYARD_CONFIG": "/env.yaml"]
        #expect(ConfigSource.resolve(flag: "/flag.yaml", environment: env, fileExists: { _ in true }) == .file("/flag.yaml"))
        #expect(ConfigSource.resolve(flag: nil, environment: env, fileExists: { _ in true }) == .file("/env.yaml"))
        #expect(ConfigSource.resolve(flag: nil, environment: [:], fileExists: { $0 == "/etc/switchyard/switchyard.yaml" })
                == .file("/etc/switchyard/switchyard.yaml"))
        #expect(ConfigSource.resolve(flag: nil, environment: [:], fileExists: { _ in false }) == .embeddedDefault)
        #expect(ConfigSource.resolve(flag: "", environment: ["SWITCHYARD_CONFIG": ""], fileExists: { _ in false }) == .embeddedDefault)
    }

    @Test("description names the file or the embedded default")
    func description() {
        #expect(ConfigSource.file("/etc/x.yaml").description == "/etc/x.yaml")
        #expect(ConfigSource.embeddedDefault.description == "<embedded default>")
    }
}
