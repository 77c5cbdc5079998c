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

    @Test("serve: an invalid config exits non-zero with a reason on stderr")
    func serveRefusesInvalidConfig() throws {
        let (dir, path) = try Self.write("""
            listen: ["127.0.0.1:0"]
            listn: ["127.0.0.1:0"]
            routes: []

            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try runProcess(E2E.binaryPath, ["serve", "--config", path], timeout: 20)
        #expect(!result.timedOut, "serve kept running with an invalid config")
        #expect(result.status != 0, "serve exited 0 with an invalid config")
        #expect(result.stderrString.contains("\(path):2:1"), "stderr: \(result.stderrString)")
    }
}
