import Foundation
import Testing
import SwitchyardConfig
import SwitchyardRouting

@Suite("Config values: defaults and what each key sets")
struct ConfigValuesTests {
    @Test("an empty file gives every default")
    func defaults() throws {
        let config = try #require(TestCatalog.config(""))
        #expect(config.source == "t.yaml")
        #expect(config.listen == [.ipv4(host: "127.0.0.1", port: 8080)])
        #expect(config.eventLoops == 1)
        #expect(config.limits == Limits())
        #expect(config.limits.maxTargetBytes == 8192)
        #expect(config.control == nil)
        #expect(config.compression == CompressionSettings())
        #expect(config.threadPool == PoolSettings(size: 40, queue: 1024))
        #expect(config.threadPools.isEmpty)
        #expect(config.processPool == PoolSettings(size: nil, queue: 256))
        #expect(config.plugins.isEmpty && config.routes.isEmpty)
        #expect(config.warnings.map(\.description) == [
            "t.yaml:1:1: warning: no routes: this config serves nothing but 404s; add routes under routes:",
        ])
    }

    @Test("every top-level key is read into the model")
    func everyKey() throws {
        let config = try #require(TestCatalog.config("""
            listen: ["0.0.0.0:80", "[::1]:8080", "unix:/run/s.sock"]
            event_loops: auto
            limits:
              max_header_bytes: 1
              max_body_bytes: 2
              max_target_bytes: 3
              header_timeout_ms: 4
              idle_timeout_ms: 5
              max_connections: 6
              shutdown_timeout_ms: 7
              min_data_rate_bytes_per_s: 0
              max_buffered_bytes: 4294967296
            control: /run/switchyard/control.sock
            compression: { enabled: false, min_bytes: 0, level: 9 }
            thread_pool: { size: auto, queue: 8 }
            thread_pools: { reports: { size: 4, queue: 16 }, bulk: { queue: 2 } }
            process_pool: { size: 3, queue: 10_000 }
            plugins:
              - { name: reports, path: /usr/lib/libreports.so }
            routes: []
            """))
        #expect(config.listen == [.ipv4(host: "0.0.0.0", port: 80), .ipv6(host: "::1", port: 8080), .unix(path: "/run/s.sock")])
        #expect(config.eventLoops == 4)  // auto: the loader's cores
        var limits = Limits()
        limits.maxHeaderBytes = 1; limits.maxBodyBytes = 2; limits.maxTargetBytes = 3
        limits.headerTimeoutMs = 4; limits.idleTimeoutMs = 5; limits.maxConnections = 6
        limits.shutdownTimeoutMs = 7; limits.minDataRateBytesPerSecond = 0; limits.maxBufferedBytes = 1 << 32
        #expect(config.limits == limits)
        #expect(config.control == "/run/switchyard/control.sock")
        #expect(config.compression.enabled == false && config.compression.minBytes == 0 && config.compression.level == 9)
        #expect(config.threadPool == PoolSettings(size: nil, queue: 8))
        #expect(config.threadPools == ["reports": PoolSettings(size: 4, queue: 16), "bulk": PoolSettings(size: 40, queue: 2)])
        #expect(config.processPool == PoolSettings(size: 3, queue: 10_000))
        #expect(config.plugins.map(\.name) == ["reports"])
        #expect(config.plugins.first?.path == "/usr/lib/libreports.so")
        #expect(config.plugins.first?.location == SourceLocation(file: "t.yaml", line: 19, column: 5))
    }

    @Test("a route's keys are read, with defaults for the rest")
    func routeKeys() throws {
        let config = try #require(TestCatalog.config("""
            thread_pools: { reports: { size: 2 } }
            routes:
              - path: /a/{id}/{rest...}
                methods: [get, POST]
                handler: builtin.text
                mode: thread
                pool: reports
                timeout_ms: 250
                allow: [10.0.0.0/8, "::1"]
                compression: false
                options: { status: 201, body: "made\\n", content_type: text/plain }
              - { path: /b, handler: builtin.echo, mode: sync }
            """))
        let a = config.routes[0], b = config.routes[1]
        #expect(a.path == "/a/{id}/{rest...}")
        #expect(a.pattern.parameterNames == ["id", "rest"])
        #expect(a.methods == [.get, .post])
        #expect(a.handler == "builtin.text" && a.handlerKind == .sync)
        #expect(a.declaredMode == .thread && a.effectiveMode == .thread)
        #expect(a.pool == "reports" && a.timeoutMs == 250)
        #expect(a.allow.map(\.text) == ["10.0.0.0/8", "::1"])
        #expect(a.compression == false)
        #expect(a.options == ["status": .int(201), "body": .string("made\n"), "content_type": .string("text/plain")])
        #expect(a.location == SourceLocation(file: "t.yaml", line: 3, column: 5))
        #expect(b.methods == [.get, .head])
        #expect(b.pool == nil && b.timeoutMs == nil && b.allow.isEmpty && b.compression && b.options.isEmpty)
        #expect(b.location == SourceLocation(file: "t.yaml", line: 12, column: 5))
    }

    @Test("quoted numbers are strings, unquoted ones are not")
    func scalarTyping() throws {
        let config = try #require(TestCatalog.config("""
            routes:
              - { path: /a, handler: builtin.text, mode: sync, options: { body: "42", status: 0xCA } }
            """))
        #expect(config.routes[0].options == ["body": .string("42"), "status": .int(202)])
    }
}

@Suite("listen addresses")
struct ListenAddressTests {
    @Test("valid forms", arguments: [
        ("127.0.0.1:8080", ListenAddress.ipv4(host: "127.0.0.1", port: 8080)),
        ("0.0.0.0:80", .ipv4(host: "0.0.0.0", port: 80)),
        ("localhost:8080", .ipv4(host: "127.0.0.1", port: 8080)),
        ("127.0.0.1:0", .ipv4(host: "127.0.0.1", port: 0)),
        ("[::1]:8080", .ipv6(host: "::1", port: 8080)),
        ("[::]:8080", .ipv6(host: "::", port: 8080)),
        ("[0:0::1]:443", .ipv6(host: "::1", port: 443)),
        ("unix:/run/switchyard/http.sock", .unix(path: "/run/switchyard/http.sock")),
    ])
    func valid(text: String, expected: ListenAddress) throws {
        let config = try #require(TestCatalog.config("listen: [\"\(text)\"]"))
        #expect(config.listen == [expected])
    }

    @Test("invalid forms", arguments: [
        ("127.0.0.1", "has no port"),
        ("127.0.0.1:", "has port ''"),
        ("127.0.0.1:http", "has port 'http'"),
        ("127.0.0.1:65536", "expected 0 to 65535"),
        ("::1:8080", "write IPv6 addresses in brackets"),
        ("[::1]8080", "has no port"),
        ("[::1:8080", "no closing ']'"),
        ("[127.0.0.1]:80", "is not an IPv6 address"),
        ("example.com:80", "host names other than localhost are not resolved"),
        ("256.1.1.1:80", "is not an IPv4 address"),
        (":8080", "has no host"),
        ("unix:", "has no path"),
        ("unix:/" + String(repeating: "x", count: 120), "at most 107 fit"),
    ])
    func invalid(text: String, fragment: String) {
        let errors = TestCatalog.errors("listen: [\"\(text)\"]")
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("t.yaml:1:10: error: ") == true)
        #expect(errors.first?.contains(fragment) == true, "\(errors)")
    }

    @Test("port 0 may repeat: each binds its own free port")
    func portZeroRepeats() throws {
        let config = try #require(TestCatalog.config(#"listen: ["127.0.0.1:0", "127.0.0.1:0"]"#))
        #expect(config.listen.count == 2)
    }

    @Test("a single string counts as a list of one")
    func singleString() throws {
        let config = try #require(TestCatalog.config("listen: 127.0.0.1:9000"))
        #expect(config.listen == [.ipv4(host: "127.0.0.1", port: 9000)])
    }
}

@Suite("allow: networks")
struct NetworkPrefixTests {
    static func prefix(_ text: String) throws -> NetworkPrefix {
        let config = try #require(TestCatalog.config("""
            routes:
              - { path: /a, handler: builtin.echo, mode: sync, allow: ["\(text)"] }
            """))
        return try #require(config.routes.first?.allow.first)
    }

    static func bytes(_ text: String) -> [UInt8] {
        var address = in6_addr()
        precondition(inet_pton(AF_INET6, text, &address) == 1)
        return withUnsafeBytes(of: &address) { Array($0) }
    }

    static func contains(_ prefix: NetworkPrefix, _ address: String) -> Bool {
        bytes(address).withUnsafeBytes { prefix.contains($0) }
    }

    @Test("IPv4 networks are stored IPv4-mapped with 96 added to the length", arguments: [
        ("127.0.0.0/8", "::ffff:127.0.0.0", 104),
        ("10.1.2.3", "::ffff:10.1.2.3", 128),
        ("192.168.1.7/24", "::ffff:192.168.1.0", 120),
        ("0.0.0.0/0", "::ffff:0.0.0.0", 96),
    ])
    func ipv4(text: String, mapped: String, length: Int) throws {
        let prefix = try Self.prefix(text)
        #expect(prefix.address == Self.bytes(mapped))
        #expect(prefix.prefixLength == length)
        #expect(prefix.text == text)
    }

    @Test("IPv6 networks keep their length", arguments: [
        ("::1", "::1", 128),
        ("fd00::/8", "fd00::", 8),
        ("2001:db8::1/32", "2001:db8::", 32),
        ("::/0", "::", 0),
    ])
    func ipv6(text: String, address: String, length: Int) throws {
        let prefix = try Self.prefix(text)
        #expect(prefix.address == Self.bytes(address))
        #expect(prefix.prefixLength == length)
    }

    @Test("membership")
    func membership() throws {
        let loopback = try Self.prefix("127.0.0.0/8")
        #expect(Self.contains(loopback, "::ffff:127.0.0.1"))
        #expect(Self.contains(loopback, "::ffff:127.255.0.9"))
        #expect(!Self.contains(loopback, "::ffff:128.0.0.1"))
        #expect(!Self.contains(loopback, "::1"))
        let v6 = try Self.prefix("::1")
        #expect(Self.contains(v6, "::1"))
        #expect(!Self.contains(v6, "::2"))
    }

    @Test("invalid networks", arguments: [
        ("10.0.0.0/33", "prefix length '33'; expected 0 to 32"),
        ("::/129", "prefix length '129'; expected 0 to 128"),
        ("10.0.0.0/", "prefix length ''"),
        ("10.0.0.0/x", "prefix length 'x'"),
        ("10.0.0", "is not a valid address"),
        ("fe80::1%eth0", "is not a valid address"),
    ])
    func invalid(text: String, fragment: String) {
        let errors = TestCatalog.errors("""
            routes:
              - { path: /a, handler: builtin.echo, mode: sync, allow: ["\(text)"] }
            """)
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("t.yaml:2:60: error: bad allow entry in route /a: ") == true, "\(errors)")
        #expect(errors.first?.contains(fragment) == true, "\(errors)")
    }
}
