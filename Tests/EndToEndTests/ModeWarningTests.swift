import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

// The mode table's warnings and errors as an operator sees them: in
// `switchyard check`, in `switchyard routes`, and in the `serve` log at start;
// and the two variables that silence the warnings, each its own kind only.

extension ExecutionModeTests {
    @Suite("Mode warnings")
    struct ModeWarnings {
        static let implicitVar = "SWITCHYARD_WARN_IMPLICIT_SYNC_TO_THREAD"
        static let asyncVar = "SWITCHYARD_WARN_SYNC_TO_THREAD_WITH_ASYNC"

        /// Line 3: a sync handler with no mode (implicit sync); lines 4–5: an
        /// async handler declared thread, both spellings; lines 6–7: clean.
        static let yaml = """
            listen: ["127.0.0.1:0"]
            routes:
              - { path: /implicit, handler: builtin.echo }
              - { path: /tdelay, handler: builtin.delay, mode: thread }
              - { path: /sdelay, handler: builtin.delay, sync_to_thread: true }
              - { path: /ok, handler: builtin.echo, mode: sync }
              - { path: /okdelay, handler: builtin.delay, mode: async }

            """

        enum Silence: String, CaseIterable, CustomTestStringConvertible, Sendable {
            case none, implicit, async, both
            var environment: [String: String] {
                switch self {
                case .none: return [:]
                case .implicit: return [ModeWarnings.implicitVar: "0"]
                case .async: return [ModeWarnings.asyncVar: "0"]
                case .both: return [ModeWarnings.implicitVar: "0", ModeWarnings.asyncVar: "0"]
                }
            }
            var implicitShown: Bool { self == .none || self == .async }
            var asyncShown: Bool { self == .none || self == .implicit }
            var testDescription: String { "silenced: \(rawValue)" }
        }

        static func write(_ yaml: String) throws -> (dir: URL, path: String) {
            let dir = try E2E.makeTempDir()
            let path = dir.appendingPathComponent("config.yaml").path
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            return (dir, path)
        }

        /// Our environment without either variable, plus `extra`.
        static func environment(_ extra: [String: String]) -> [String: String] {
            var env = E2E.childEnvironment()
            env.removeValue(forKey: implicitVar)
            env.removeValue(forKey: asyncVar)
            return env.merging(extra) { $1 }
        }

        static func lines(_ text: String, containing needles: String...) -> [Substring] {
            text.split(separator: "\n").filter { line in needles.allSatisfy { line.contains($0) } }
        }

        /// Guards the warnings in `switchyard check`: each names its file,
        /// line and route; valid config (exit 0); and each variable silences
        /// its own kind only.
        @Test("check prints both warnings with file:line; the variables silence their own kind",
              arguments: Silence.allCases)
        func check(_ silence: Silence) throws {
            let (dir, path) = try Self.write(Self.yaml)
            defer { try? FileManager.default.removeItem(at: dir) }
            let result = try runProcess(E2E.binaryPath, ["check", "--config", path], timeout: 20,
                                        environment: Self.environment(silence.environment))
            let out = result.output
            #expect(result.status == 0, "exit \(result.status): \(out)")
            #expect(!out.contains("error:"), "\(out)")
            let implicit = Self.lines(out, containing: "\(path):3:", "warning:", "/implicit", "implicit sync mode")
            #expect(implicit.count == (silence.implicitShown ? 1 : 0), "implicit-sync warning lines: \(implicit); output:\n\(out)")
            let thread = Self.lines(out, containing: "\(path):4:", "warning:", "/tdelay", "has no effect")
            let synonym = Self.lines(out, containing: "\(path):5:", "warning:", "/sdelay", "has no effect")
            #expect(thread.count == (silence.asyncShown ? 1 : 0), "mode: thread on async warning lines: \(thread); output:\n\(out)")
            #expect(synonym.count == (silence.asyncShown ? 1 : 0), "sync_to_thread on async warning lines: \(synonym); output:\n\(out)")
            if !silence.implicitShown { #expect(!out.contains("implicit sync mode"), "\(out)") }
            if !silence.asyncShown { #expect(!out.contains("has no effect"), "\(out)") }
            #expect(Self.lines(out, containing: "/ok").filter { $0.contains("warning") }.isEmpty, "a warning for a clean route: \(out)")
        }

        /// Guards `switchyard routes`: declared and effective modes and the
        /// warnings per route; the variables silence them there too.
        @Test("routes shows declared/effective modes and each route's warnings; the variables silence them",
              arguments: Silence.allCases)
        func routes(_ silence: Silence) throws {
            let (dir, path) = try Self.write(Self.yaml)
            defer { try? FileManager.default.removeItem(at: dir) }
            let result = try runProcess(E2E.binaryPath, ["routes", "--config", path], timeout: 20,
                                        environment: Self.environment(silence.environment))
            let out = result.output
            #expect(result.status == 0, "exit \(result.status): \(out)")
            func row(_ route: String) -> String {
                String(result.stdoutString.split(separator: "\n").first { $0.split(separator: " ").contains(Substring(route)) } ?? "")
            }
            let implicit = row("/implicit"), tdelay = row("/tdelay"), sdelay = row("/sdelay")
            let ok = row("/ok"), okdelay = row("/okdelay")
            #expect(!implicit.isEmpty && !tdelay.isEmpty && !ok.isEmpty, "route rows missing:\n\(out)")
            #expect(implicit.contains("sync"), "/implicit row: \(implicit)")
            #expect(tdelay.contains("thread") && tdelay.contains("async"), "/tdelay row (declared thread, effective async): \(tdelay)")
            #expect(okdelay.contains("async"), "/okdelay row: \(okdelay)")
            #expect(implicit.contains("implicit sync mode") == silence.implicitShown, "/implicit row: \(implicit)")
            #expect(tdelay.contains("no effect") == silence.asyncShown, "/tdelay row: \(tdelay)")
            #expect(sdelay.contains("no effect") == silence.asyncShown, "/sdelay row: \(sdelay)")
            #expect(!ok.contains("implicit") && !ok.contains("no effect"), "/ok row: \(ok)")
            if !silence.implicitShown { #expect(!out.contains("implicit sync mode"), "\(out)") }
            if !silence.asyncShown { #expect(!out.contains("has no effect") && !out.contains("no effect"), "\(out)") }
        }

        /// Guards the warnings in the `serve` log at start, and their
        /// variables there (the running daemon reads its own environment).
        @Test("serve logs both warnings at start; the variables silence them", arguments: Silence.allCases)
        func serveLog(_ silence: Silence) throws {
            let dir = try E2E.makeTempDir()
            let yaml = Self.yaml.replacingOccurrences(of: "routes:\n",
                                                      with: "control: \"\(dir.appendingPathComponent("control.sock").path)\"\nroutes:\n")
            var env = silence.environment
            // The daemon's environment is ours plus these; make the "on" case explicit.
            if silence.implicitShown { env[Self.implicitVar] = "1" }
            if silence.asyncShown { env[Self.asyncVar] = "1" }
            let daemon = try Daemon(yaml: yaml, dir: dir, expectedListeners: 1, environment: env)
            defer { daemon.stop() }
            #expect(try daemon.get("/ok").status == 200)
            let log = daemon.log
            #expect(Self.lines(log, containing: "/implicit", "implicit sync mode").count == (silence.implicitShown ? 1 : 0), "log:\n\(log)")
            #expect(Self.lines(log, containing: "/tdelay", "has no effect").count == (silence.asyncShown ? 1 : 0), "log:\n\(log)")
            #expect(Self.lines(log, containing: "/sdelay", "has no effect").count == (silence.asyncShown ? 1 : 0), "log:\n\(log)")
        }

        /// Guards the contract's note on `default_mode`: a top-level default
        /// decides for routes that declare nothing, so the implicit-sync
        /// warning does not arise.
        @Test("default_mode: sync keeps the implicit-sync warning quiet")
        func defaultModeQuiet() throws {
            let (dir, path) = try Self.write(Self.yaml.replacingOccurrences(of: "routes:\n", with: "default_mode: sync\nroutes:\n"))
            defer { try? FileManager.default.removeItem(at: dir) }
            let check = try runProcess(E2E.binaryPath, ["check", "--config", path], timeout: 20, environment: Self.environment([:]))
            #expect(check.status == 0, "\(check.output)")
            #expect(!check.output.contains("implicit sync mode"), "\(check.output)")
            #expect(check.output.contains("has no effect"), "the other warning should stay: \(check.output)")
        }

        /// Guards the mode table's errors: a declared mode that cannot run
        /// the handler is an error with file, line and column (exit 1) —
        /// never silently run some other way.
        @Test("mode mismatches are errors at their line",
              arguments: [
                  "{ path: /x, handler: builtin.delay, mode: sync }",
                  "{ path: /x, handler: builtin.delay, mode: process }",
                  "{ path: /x, handler: builtin.echo, mode: async }",
                  "{ path: /x, handler: builtin.delay, sync_to_thread: false }",
              ])
        func mismatchIsError(_ route: String) throws {
            let (dir, path) = try Self.write("listen: [\"127.0.0.1:0\"]\nroutes:\n  - { path: /ok, handler: builtin.echo, mode: sync }\n  - \(route)\n")
            defer { try? FileManager.default.removeItem(at: dir) }
            let result = try runProcess(E2E.binaryPath, ["check", "--config", path], timeout: 20, environment: Self.environment([:]))
            #expect(result.status == 1, "exit \(result.status) for \(route): \(result.output)")
            let pattern = "\(NSRegularExpression.escapedPattern(for: path)):4:[0-9]+: error:"
            #expect(result.output.range(of: pattern, options: .regularExpression) != nil, "\(route): \(result.output)")
        }
    }
}
