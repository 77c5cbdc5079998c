import Foundation
import Testing
import SwitchyardConfig
import SwitchyardHTTP
@testable import SwitchyardPlugins

/// Which `RouteHandler` case a handler is.
enum HandlerCase: Equatable {
    case fixed, sync, async

    init(_ handler: RouteHandler) {
        switch handler {
        case .fixed: self = .fixed
        case .sync: self = .sync
        case .async: self = .async
        }
    }
}

@Suite("Handler registry")
struct HandlerRegistryTests {
    /// Every built-in: its kind, its options and the case its factory gives.
    static let builtins: [(String, HandlerKind, Set<String>, HandlerCase)] = [
        ("builtin.text", .sync, ["status", "body", "content_type"], .fixed),
        ("builtin.echo", .sync, [], .sync),
        ("builtin.health", .sync, ["max_lag_ms"], .sync),
        ("builtin.ready", .sync, [], .sync),
        ("builtin.sleep", .sync, ["ms"], .sync),
        ("builtin.delay", .async, ["ms"], .async),
        ("builtin.cpu", .sync, ["rounds"], .sync),
    ]

    @Test("the catalog is the registry's view: same names, kinds and options; every entry has a factory")
    func catalogFromRegistry() {
        let catalog = Builtins.catalog
        #expect(Set(catalog.entries.keys) == Set(Builtins.registry.names))
        #expect(Set(catalog.entries.keys) == Set(Self.builtins.map(\.0)))
        for (name, entry) in catalog.entries {
            let definition = Builtins.registry[name]
            #expect(definition != nil, "\(name) has no factory")
            #expect(definition?.name == name)
            #expect(definition?.kind == entry.kind)
            #expect(Set(definition?.entry.options.keys ?? [:].keys) == Set(entry.options.keys))
        }
        for (name, kind, options, _) in Self.builtins {
            #expect(catalog.entries[name]?.kind == kind, "\(name)")
            #expect(Set(catalog.entries[name]?.options.keys ?? [:].keys) == options, "\(name)")
        }
        #expect(catalog.entries["builtin.text"]?.check != nil)
    }

    @Test("makeHandler gives each built-in's RouteHandler case, matching its kind")
    func makeHandlerCases() throws {
        for (name, kind, _, expected) in Self.builtins {
            let handler = Builtins.makeHandler(for: try route(name, kind: kind), status: FixedStatus())
            #expect(HandlerCase(handler) == expected, "\(name)")
            #expect((kind == .async) == (HandlerCase(handler) == .async), "\(name)")
        }
    }

    @Test("factories take the route's options")
    func optionsReachHandlers() throws {
        let status = FixedStatus()
        guard case .sync(let sleep) = Builtins.makeHandler(for: try route("builtin.sleep", options: ["ms": .int(2)]), status: status),
              case .sync(let cpu) = Builtins.makeHandler(for: try route("builtin.cpu", options: ["rounds": .int(64)]), status: status),
              case .fixed(let text) = Builtins.makeHandler(for: try route("builtin.text", options: ["body": .string("hi\n"), "status": .int(201)]), status: status)
        else {
            Issue.record("wrong handler cases"); return
        }
        #expect(try answer(sleep, "/t").body == "slept 2 ms\n")
        #expect(try answer(cpu, "/t").body == hex16(referenceJob(rounds: 64)))
        #expect(text.status == 201 && text.body == Array("hi\n".utf8))
    }

    @Test("register adds a definition (as a plugin will) and refuses a name already taken")
    func register() throws {
        var registry = Builtins.registry
        let extra = HandlerDefinition(name: "reports.render", kind: .sync, options: ["title": .string]) { options, _ in
            .fixed(FixedContent(status: 200, contentType: "text/plain", body: Array((options["title"]?.stringValue ?? "").utf8), etag: nil))
        }
        let added = registry.register(extra)
        let again = registry.register(extra)
        let taken = registry.register(HandlerDefinition(name: "builtin.text", kind: .async) { _, _ in .sync(EchoHandler()) })
        #expect(added && !again && !taken)
        #expect(registry["builtin.text"]?.kind == .sync, "a refused registration leaves the first")
        #expect(registry.catalog.entries["reports.render"]?.kind == .sync)
        #expect(Builtins.registry["reports.render"] == nil, "the built-in registry is a value, unchanged")
        let made = registry.makeHandler(for: try route("reports.render", options: ["title": .string("t")]), status: FixedStatus())
        guard case .fixed(let content)? = made else { Issue.record("no fixed content"); return }
        #expect(content.body == Array("t".utf8))
        #expect(registry.makeHandler(for: try route("reports.nope"), status: FixedStatus()) == nil)
    }

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test("the shipped configs load against Builtins.catalog without warnings, and every route's handler builds")
    func shippedConfigs() throws {
        let loader = ConfigLoader(catalog: Builtins.catalog, environment: [:], cores: 2)
        let configs = [
            try loader.load(yaml: EmbeddedDefault.yaml, name: EmbeddedDefault.name, baseDirectory: nil),
            try loader.load(file: Self.repositoryRoot + "/config/switchyard.yaml"),
        ]
        for config in configs {
            #expect(config.warnings.isEmpty, "\(config.source): \(config.warnings)")
            #expect(Set(config.routes.map(\.effectiveMode)) == Set(ExecutionMode.allCases), "\(config.source)")
            for spec in config.routes {
                let handler = Builtins.makeHandler(for: spec, status: FixedStatus())
                #expect((spec.handlerKind == .async) == (HandlerCase(handler) == .async), "\(spec.path)")
            }
        }
    }

    @Test("option ranges the config enforces", arguments: [
        ("builtin.sleep", "ms: 600001"), ("builtin.delay", "ms: -1"), ("builtin.cpu", "rounds: 0"),
        ("builtin.cpu", "rounds: 100000001"), ("builtin.sleep", "seconds: 1"),
    ])
    func optionRanges(handler: String, option: String) {
        let loader = ConfigLoader(catalog: Builtins.catalog, environment: [:], cores: 2)
        #expect(throws: ConfigError.self) {
            try loader.load(yaml: "routes: [{ path: /a, handler: \(handler), options: { \(option) } }]", name: "t.yaml", baseDirectory: nil)
        }
    }
}
