import Foundation
import Testing

/// `switchyard check` and `serve`'s refusal of a bad config.
@Suite("Command line")
struct CommandLineTests {
    static let validYAML = """
        listen: ["127.0.0.1:0"]
        routes:
          - { path: /hello, handler: builtin.text, mode: sync, options: { body: "hello\\n" } }

        """

    static func write(_ yaml: String) throws -> (dir: URL, path: String) {
        let dir = try E2E.makeTempDir()
        let path = dir.appendingPathComponent("config.yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return (dir, path)
    }

    @Test("check: a typo'd key on line 2 gives FILE:2:1: error: and exit 1")
    func checkTypo() throws {
        let (dir, path) = try Self.write("""
            listen: ["127.0.0.1:0"]
            listn: ["127.0.0.1:0"]
            routes:
              - { path: /hello, handler: builtin.text, mode: sync, options: { body: "hello\\n" } }

            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try runProcess(E2E.binaryPath, ["check", "--config", path], timeout: 20)
        #expect(result.status == 1, "exit \(result.status); output: \(result.output)")
        #expect(result.output.contains("\(path):2:1: error:"), "output: \(result.output)")
    }

    @Test("check: an unknown handler is an error naming its line")
    func checkUnknownHandler() throws {
        let (dir, path) = try Self.write("""
            listen: ["127.0.0.1:0"]
            routes:
              - { path: /hello, handler: builtin.text, mode: sync, options: { body: "hello\\n" } }
              - { path: /nope, handler: builtin.no_such_handler }

            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try runProcess(E2E.binaryPath, ["check", "--config", path], timeout: 20)
        #expect(result.status == 1, "exit \(result.status); output: \(result.output)")
        let pattern = "\(NSRegularExpression.escapedPattern(for: path)):4:[0-9]+: error:"
        #expect(result.output.range(of: pattern, options: .regularExpression) != nil, "output: \(result.output)")
    }

    @Test("check: a valid config exits 0 with no error")
    func checkValid() throws {
        let (dir, path) = try Self.write(Self.validYAML)
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try runProcess(E2E.binaryPath, ["check", "--config", path], timeout: 20)
        #expect(result.status == 0, "exit \(result.status); output: \(result.output)")
        #expect(!result.output.contains("error:"), "output: \(result.output)")
    }

    @Test("serve: an invalid config exits non-zero with a one-line reason on stderr")
    func serveRefusesInvalidConfig() throws {
        let (dir, path) = try Self.write("""
            listen: ["127.0.0.1:0"]
            listn: ["127.0.0.1:0"]
            routes: [{ path: /a, handler: builtin.nope }]

            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try runProcess(E2E.binaryPath, ["serve", "--config", path], timeout: 20)
        #expect(!result.timedOut, "serve kept running with an invalid config")
        #expect(result.status != 0, "serve exited 0 with an invalid config")
        let lines = result.stderrString.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.stderrString)")
        #expect(lines.first?.contains("\(path):2:1: error: unknown key 'listn'") == true, "stderr: \(result.stderrString)")
        #expect(lines.first?.hasSuffix("(and 1 more error; switchyard check lists both)") == true, "stderr: \(result.stderrString)")
    }

    @Test("serve: an address in use exits non-zero with a one-line reason on stderr")
    func serveAddressInUse() throws {
        let first = try Daemon()
        defer { first.stop() }
        let (dir, path) = try Self.write("""
            listen: ["127.0.0.1:\(first.port)"]
            routes: []

            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try runProcess(E2E.binaryPath, ["serve", "--config", path], timeout: 20)
        #expect(result.status != 0)
        let reasons = result.stderrString.split(separator: "\n").filter { $0.contains("switchyard: cannot listen") }
        #expect(reasons.count == 1 && reasons[0].contains("Address already in use"), "stderr: \(result.stderrString)")
    }

    /// The control socket is taken before any listener, so a second daemon
    /// pointed at a live one's socket fails before it could accept (and then
    /// reset) a client: with both in use, the control socket is what it names.
    @Test("serve: a control socket a live daemon holds is refused before any listener is bound")
    func controlSocketInUse() throws {
        let first = try Daemon()
        defer { first.stop() }
        let controlPath = first.dir.appendingPathComponent("control.sock").path
        let (dir, path) = try Self.write("""
            listen: ["127.0.0.1:\(first.port)"]
            control: "\(controlPath)"
            routes: []

            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try runProcess(E2E.binaryPath, ["serve", "--config", path], timeout: 20)
        #expect(result.status != 0)
        let reasons = result.stderrString.split(separator: "\n").filter { $0.contains("critical") }
        #expect(reasons.count == 1 && reasons[0].contains("cannot open the control socket \(controlPath)"), "stderr: \(result.stderrString)")
        #expect(!result.stderrString.contains("cannot listen"), "stderr: \(result.stderrString)")
        let reload = try runProcess(E2E.binaryPath, ["reload", "--control", controlPath], timeout: 20)
        #expect(reload.status == 0, "the first daemon lost its control socket: \(reload.output)")
    }

    @Test("check: built-in options that would crash or corrupt answers are refused at their column")
    func checkBuiltinOptions() throws {
        let (dir, path) = try Self.write("""
            listen: ["127.0.0.1:0"]
            routes:
              - { path: /a, handler: builtin.text, mode: sync, options: { status: 204, body: "x" } }
              - { path: /b, handler: builtin.text, mode: sync, options: { status: 1000 } }
              - { path: /c, handler: builtin.health, mode: sync, options: { max_lag_ms: -1 } }

            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try runProcess(E2E.binaryPath, ["check", "--config", path], timeout: 20)
        #expect(result.status == 1, "exit \(result.status); output: \(result.output)")
        #expect(result.output.contains("\(path):3:82: error: option 'body' of builtin.text: a 204 answer has no body"), "\(result.output)")
        #expect(result.output.contains("\(path):4:71: error: option 'status' of builtin.text must be an integer from 200 to 599"), "\(result.output)")
        #expect(result.output.contains("\(path):5:77: error: option 'max_lag_ms' of builtin.health"), "\(result.output)")
    }

    @Test("check --config with an empty path is a usage error, not the embedded default")
    func emptyConfigPath() throws {
        let result = try runProcess(E2E.binaryPath, ["check", "--config", ""], timeout: 20)
        #expect(result.status != 0)
        #expect(!result.output.contains("embedded default"), "\(result.output)")
    }

    @Test("serve: a unix socket another instance serves is 'address in use'; the first keeps its socket")
    func unixSocketInUse() throws {
        let socketDir = try E2E.makeTempDir()
        defer { try? FileManager.default.removeItem(at: socketDir) }
        let socketPath = socketDir.appendingPathComponent("s.sock").path
        let first = try Daemon(DaemonConfig(listen: ["127.0.0.1:0", "unix:\(socketPath)"]))
        defer { first.stop() }
        let (dir, path) = try Self.write("""
            listen: ["unix:\(socketPath)"]
            routes:
              - { path: /hello, handler: builtin.text, mode: sync, options: { body: "second\\n" } }

            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let second = try runProcess(E2E.binaryPath, ["serve", "--config", path], timeout: 20)
        #expect(second.status != 0, "the second instance started: \(second.output)")
        #expect(second.stderrString.contains("Address already in use"), "\(second.stderrString)")
        let client = try RawClient(unixPath: socketPath)
        try client.send("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try client.readResponse().bodyString == "hello\n", "the first instance lost its socket")
    }

    @Test("check: a declared plugin is refused while this build loads none")
    func pluginsRefused() throws {
        let (dir, path) = try Self.write("""
            listen: ["127.0.0.1:0"]
            plugins:
              - { name: reports, path: /usr/lib/switchyard/plugins/libreports.so }
            routes: []

            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try runProcess(E2E.binaryPath, ["check", "--config", path], timeout: 20)
        #expect(result.status == 1)
        #expect(result.output.contains("\(path):3:5: error: plugin 'reports': loading plugins is not available in this build yet"),
                "\(result.output)")
    }
}
