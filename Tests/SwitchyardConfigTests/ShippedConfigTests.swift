import Foundation
import Testing
import SwitchyardConfig

@Suite("The configs we ship")
struct ShippedConfigTests {
    @Test("the embedded default loads with no errors and no warnings")
    func embeddedDefault() throws {
        let config = try TestCatalog.loader().load(yaml: EmbeddedDefault.yaml, name: EmbeddedDefault.name, baseDirectory: nil)
        #expect(config.source == "<embedded default>")
        #expect(config.warnings.isEmpty)
        #expect(config.listen == [.ipv4(host: "127.0.0.1", port: 8080)])
        let routes = Dictionary(uniqueKeysWithValues: config.routes.map { ($0.path, $0) })
        #expect(routes["/livez"]?.handler == "builtin.health")
        #expect(routes["/healthz"]?.handler == "builtin.health")
        #expect(routes["/readyz"]?.handler == "builtin.ready")
        #expect(routes["/hello"]?.handler == "builtin.text")
        #expect(routes["/hello"]?.options["body"] == .string("hello\n"))
        #expect(routes["/echo"]?.methods == [.get, .post])
        #expect(config.routes.allSatisfy { $0.methods.contains(.get) && $0.declaredMode == .sync })
    }

    /// Only the handlers the plugins layer has today, so the shipped
    /// configs also pass `switchyard check` with the real binary.
    static let todaysCatalog = HandlerCatalog(entries: TestCatalog.catalog.entries.filter {
        ["builtin.text", "builtin.echo", "builtin.health", "builtin.ready"].contains($0.key)
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
        let paths = config.routes.map(\.path)
        for path in ["/hello", "/livez", "/healthz", "/readyz", "/echo"] {
            #expect(paths.contains(path), "missing \(path)")
        }
        let included = config.routes.filter { $0.location.file.hasSuffix("config/routes.d/example.yaml") }
        #expect(included.map(\.path) == ["/files/{rest...}", "/items/{id}"])
        // Thread and process routes stay commented out until their pools land.
        #expect(Set(config.routes.map(\.effectiveMode)) == [.sync])
        #expect(config.threadPools["reports"] == PoolSettings(size: 4, queue: 16))
    }

    @Test("config/switchyard.yaml shows every key, each with a comment")
    func referenceShowsEveryKey() throws {
        let text = try String(contentsOfFile: Self.referencePath, encoding: .utf8)
        let keys = [
            "listen", "event_loops", "limits", "max_header_bytes", "max_body_bytes", "max_target_bytes",
            "header_timeout_ms", "idle_timeout_ms", "max_connections", "shutdown_timeout_ms",
            "min_data_rate_bytes_per_s", "max_buffered_bytes", "control",
            "compression", "enabled", "min_bytes", "level", "thread_pool", "size", "queue", "thread_pools",
            "process_pool", "include", "plugins", "name", "path", "routes", "methods", "handler", "mode",
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
