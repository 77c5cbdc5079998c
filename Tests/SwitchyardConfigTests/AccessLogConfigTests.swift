import Foundation
import Testing
import SwitchyardConfig

/// `access_log:` as the loader reads it: every accepted form and the
/// settings it gives, and one exact `file:line:col` diagnostic per mistake.
@Suite("Config: access_log")
struct AccessLogConfigTests {
    /// One accepted spelling and what it must decode to (relative paths
    /// resolved against `/etc/sy`, the base directory these are loaded with).
    struct Accepted: Sendable, CustomTestStringConvertible {
        var yaml: String
        var expected: AccessLogSettings
        var testDescription: String { yaml }
    }

    static let base = "/etc/sy"

    static let accepted: [Accepted] = [
        Accepted(yaml: "access_log: off", expected: AccessLogSettings(destination: .off)),
        Accepted(yaml: "access_log: false", expected: AccessLogSettings(destination: .off)),
        Accepted(yaml: "access_log: stderr", expected: AccessLogSettings(destination: .stderr)),
        Accepted(yaml: "access_log: /var/log/switchyard/access.log",
                 expected: AccessLogSettings(destination: .file("/var/log/switchyard/access.log"))),
        Accepted(yaml: "access_log: access.log", expected: AccessLogSettings(destination: .file("/etc/sy/access.log"))),
        Accepted(yaml: "access_log: logs/access.log", expected: AccessLogSettings(destination: .file("/etc/sy/logs/access.log"))),
        Accepted(yaml: "access_log: \"/tmp/with space.log\"", expected: AccessLogSettings(destination: .file("/tmp/with space.log"))),
        Accepted(yaml: "access_log: { to: stderr }", expected: AccessLogSettings(destination: .stderr, sample: 1)),
        Accepted(yaml: "access_log: { to: stderr, sample: 10 }", expected: AccessLogSettings(destination: .stderr, sample: 10)),
        Accepted(yaml: "access_log: { to: /var/log/a.log, sample: 1 }", expected: AccessLogSettings(destination: .file("/var/log/a.log"), sample: 1)),
        Accepted(yaml: "access_log:\n  to: rel/a.log\n  sample: 4", expected: AccessLogSettings(destination: .file("/etc/sy/rel/a.log"), sample: 4)),
        Accepted(yaml: "access_log:\n  sample: 1000000\n  to: /a.log", expected: AccessLogSettings(destination: .file("/a.log"), sample: 1_000_000)),
        Accepted(yaml: "access_log: { to: off }", expected: AccessLogSettings(destination: .off)),
    ]

    /// A route, so the config draws no "no routes" warning; it goes after
    /// the text under test, whose line numbers it leaves alone.
    static let route = "routes:\n  - { path: /a, handler: builtin.echo, mode: sync }\n"

    static func load(_ yaml: String, baseDirectory: String? = base) throws -> Config {
        try TestCatalog.loader().load(yaml: "listen: [\"127.0.0.1:0\"]\n" + yaml + "\n" + route, name: "t.yaml", baseDirectory: baseDirectory)
    }

    @Test("an accepted form decodes to its settings", arguments: accepted)
    func acceptedForm(_ c: Accepted) throws {
        let config = try Self.load(c.yaml)
        #expect(config.accessLog == c.expected)
        #expect(config.warnings.isEmpty, "\(config.warnings)")
    }

    @Test("no access_log key: off, sampling every request")
    func defaultIsOff() throws {
        let config = try Self.load("")
        #expect(config.accessLog == AccessLogSettings(destination: .off, sample: 1))
        #expect(config.accessLog.destination == .off)
        // And the type's own default says the same.
        #expect(AccessLogSettings() == AccessLogSettings(destination: .off, sample: 1))
    }

    @Test("a relative path resolves next to the config file read from disk")
    func relativeToConfigFile() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("conf/switchyard.yaml", "listen: [\"127.0.0.1:0\"]\naccess_log: { to: logs/access.log, sample: 2 }\n" + Self.route)
        let config = try TestCatalog.loader().load(file: path)
        #expect(config.accessLog == AccessLogSettings(destination: .file(dir.path + "/conf/logs/access.log"), sample: 2))
        let plain = try dir.write("other/switchyard.yaml", "access_log: a.log\n" + Self.route)
        #expect(try TestCatalog.loader().load(file: plain).accessLog.destination == .file(dir.path + "/other/a.log"))
    }

    @Test("a relative path loaded without a base directory stays relative")
    func relativeWithoutBase() throws {
        #expect(try Self.load("access_log: a.log", baseDirectory: nil).accessLog.destination == .file("a.log"))
        #expect(try Self.load("access_log: a.log", baseDirectory: "/srv/").accessLog.destination == .file("/srv/a.log"))
    }

    // MARK: Mistakes

    struct Mistake: Sendable, CustomTestStringConvertible {
        var name: String
        /// Loaded after a first line `listen: ["127.0.0.1:0"]`, so line numbers start at 2.
        var yaml: String
        var expected: String
        var testDescription: String { name }
    }

    static let stdoutAdvice = "is not a destination; use stderr (journald keeps it under systemd) or a file path"
    static let topKeys = "listen, event_loops, limits, control, reload_on_change, log_level, access_log, default_mode, compression, thread_pool, thread_pools, process_pool, include, plugins, routes"

    static let mistakes: [Mistake] = [
        Mistake(name: "to: stdout", yaml: "access_log: { to: stdout }",
                expected: "t.yaml:2:19: error: access_log.to 'stdout' \(stdoutAdvice)"),
        Mistake(name: "to: journal, block style", yaml: "access_log:\n  sample: 2\n  to: journal",
                expected: "t.yaml:4:7: error: access_log.to 'journal' \(stdoutAdvice)"),
        Mistake(name: "to: syslog", yaml: "access_log: { to: syslog }",
                expected: "t.yaml:2:19: error: access_log.to 'syslog' \(stdoutAdvice)"),
        Mistake(name: "access_log: stdout (short form)", yaml: "access_log: stdout",
                expected: "t.yaml:2:13: error: access_log 'stdout' \(stdoutAdvice)"),
        Mistake(name: "sample: 0", yaml: "access_log: { to: stderr, sample: 0 }",
                expected: "t.yaml:2:35: error: access_log.sample must be a positive integer up to 1000000; got 0"),
        Mistake(name: "sample over the limit", yaml: "access_log:\n  sample: 1000001",
                expected: "t.yaml:3:11: error: access_log.sample must be a positive integer up to 1000000; got 1000001"),
        Mistake(name: "sample: -3", yaml: "access_log: { sample: -3 }",
                expected: "t.yaml:2:23: error: access_log.sample must be a positive integer up to 1000000; got -3"),
        Mistake(name: "sample: x", yaml: "access_log: { to: stderr, sample: x }",
                expected: "t.yaml:2:35: error: access_log.sample must be a positive integer up to 1000000; got 'x'"),
        Mistake(name: "unknown key inside", yaml: "access_log:\n  to: stderr\n  format: json",
                expected: "t.yaml:4:3: error: unknown key 'format' in access_log; expected one of: to, sample"),
        Mistake(name: "misspelt key inside gets a suggestion", yaml: "access_log: { to: stderr, sampel: 4 }",
                expected: "t.yaml:2:27: error: unknown key 'sampel' in access_log; expected one of: to, sample; did you mean 'sample'?"),
        Mistake(name: "sample at the top level", yaml: "access_log: stderr\nsample: 4",
                expected: "t.yaml:3:1: error: unknown key 'sample' in top level; expected one of: \(topKeys); to sample the access log, write both in one mapping: access_log: { to: …, sample: N }"),
        Mistake(name: "access_log a list", yaml: "access_log: [stderr]",
                expected: "t.yaml:2:13: error: access_log must be a string; got a list"),
        Mistake(name: "access_log: true", yaml: "access_log: true",
                expected: "t.yaml:2:13: error: access_log must be a string; got true"),
        Mistake(name: "access_log empty string", yaml: "access_log: \"\"",
                expected: "t.yaml:2:13: error: access_log must not be empty"),
        Mistake(name: "to: a number", yaml: "access_log: { to: 5 }",
                expected: "t.yaml:2:19: error: access_log.to must be a string; got 5"),
    ]

    @Test("a mistake gives one exact diagnostic", arguments: mistakes)
    func mistake(_ m: Mistake) {
        let errors = TestCatalog.errors("listen: [\"127.0.0.1:0\"]\n" + m.yaml + "\n" + Self.route)
        #expect(errors == [m.expected])
    }

    @Test("sample under another section points at access_log:")
    func sampleElsewhere() {
        let errors = TestCatalog.errors("listen: [\"127.0.0.1:0\"]\nlimits:\n  sample: 4\n")
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.hasPrefix("t.yaml:3:3: error: unknown key 'sample' in limits; expected one of: ") == true, "\(errors)")
        #expect(errors.first?.hasSuffix("; 'sample' belongs under the top-level `access_log:`") == true, "\(errors)")
    }

    @Test("two mistakes in one access_log: both reported, in file order")
    func severalMistakes() {
        // Two mistakes in one access_log mapping: both reported, in file order.
        let errors = TestCatalog.errors("access_log:\n  to: stdout\n  sample: 0\n")
        #expect(errors == [
            "t.yaml:2:7: error: access_log.to 'stdout' \(Self.stdoutAdvice)",
            "t.yaml:3:11: error: access_log.sample must be a positive integer up to 1000000; got 0",
        ])
    }
}
