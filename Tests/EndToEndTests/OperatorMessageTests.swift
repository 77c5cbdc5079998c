import Foundation
import Testing

/// What an operator reads from the binary: `check` lists every error in one
/// run (a plugin this build cannot load with the rest), counts read right,
/// and `switchyard routes` lists the methods the 405's `Allow` lists.
@Suite("Operator messages")
struct OperatorMessageTests {
    static func write(_ yaml: String) throws -> (dir: URL, path: String) {
        let dir = try E2E.makeTempDir()
        let path = dir.appendingPathComponent("config.yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return (dir, path)
    }

    @Test("check: a declared plugin is reported in the same run as the other errors, in file order, with a pluralised summary")
    func everyErrorInOneRound() throws {
        let (dir, path) = try Self.write("""
            listen: ["127.0.0.1:0"]
            max_body_bytes: 5
            plugins:
              - { name: reports, path: /usr/lib/switchyard/plugins/libreports.so }
            routes:
              - { path: /a, handler: builtin.txt, mode: sync }
              - { path: /b, handler: builtin.text }

            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try runProcess(E2E.binaryPath, ["check", "--config", path], timeout: 20)
        #expect(result.status == 1, "\(result.output)")
        let lines = result.stderrString.split(separator: "\n").map(String.init)
        #expect(lines.count == 5, "\(result.stderrString)")
        guard lines.count == 5 else { return }
        #expect(lines[0].hasPrefix("\(path):2:1: error: unknown key 'max_body_bytes' in top level;"))
        #expect(lines[0].hasSuffix("did you mean to indent it under `limits:`?"))
        #expect(lines[1] == "\(path):4:5: error: plugin 'reports': loading plugins is not available in this build yet; remove it for now")
        #expect(lines[2].hasPrefix("\(path):6:26: error: unknown handler 'builtin.txt'"))
        // /b has no error of its own and keeps its warning; /a has one and gets none.
        #expect(lines[3].hasPrefix("\(path):7:26: warning: route /b: sync handler builtin.text has no declared mode"))
        #expect(lines.last == "\(path): invalid (3 errors, 1 warning)", "\(lines)")
    }

    @Test("check: the summary counts are pluralised", arguments: [
        (1, 0, "1 route, 0 warnings"), (2, 1, "2 routes, 1 warning"), (0, 1, "0 routes, 1 warning"),
    ])
    func pluralisedSummary(_ routes: Int, _ implicit: Int, _ expected: String) throws {
        var yaml = "listen: [\"127.0.0.1:0\"]\nroutes:\n"
        for i in 0..<routes {
            yaml += "  - { path: /r\(i), handler: builtin.echo\(i < implicit ? "" : ", mode: sync") }\n"
        }
        if routes == 0 { yaml = "listen: [\"127.0.0.1:0\"]\nroutes: []\n" }
        let (dir, path) = try Self.write(yaml)
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try runProcess(E2E.binaryPath, ["check", "--config", path], timeout: 20)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.stdoutString == "\(path): ok (\(expected))\n", "\(result.output)")
        if routes == 0 {
            #expect(result.stderrString.contains("\(path):2:1: warning: no routes: this config serves nothing but 404s"),
                    "\(result.stderrString)")
        }
    }

    @Test("check: an include pattern that matches nothing is a warning at its place, not an error")
    func includeMatchingNothing() throws {
        let (dir, path) = try Self.write("""
            listen: ["127.0.0.1:0"]
            include: ["routes.d/*.yaml"]
            routes: [{ path: /a, handler: builtin.echo, mode: sync }]

            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try runProcess(E2E.binaryPath, ["check", "--config", path], timeout: 20)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.stderrString.hasPrefix("\(path):2:11: warning: include pattern 'routes.d/*.yaml' matches no file"),
                "\(result.stderrString)")
        #expect(result.stdoutString == "\(path): ok (1 route, 1 warning)\n")
    }

    /// Routes with every shape of method list; each path has one route, so
    /// its 405 `Allow` is that route's methods.
    static let methodRoutes: [(path: String, methods: String?)] = [
        ("/get", "[GET]"), ("/head", "[HEAD]"), ("/post", "[POST]"), ("/default", nil),
        ("/many", "[OPTIONS, DELETE, POST, GET]"), ("/put", "[PUT, PATCH]"),
    ]

    @Test("routes' METHODS column and a 405's Allow (curl) name the same methods in the same order")
    func routesTableMatchesAllow() throws {
        var config = DaemonConfig()
        config.routes = Self.methodRoutes.map { route in
            "{ path: \(route.path)" + (route.methods.map { ", methods: \($0)" } ?? "") + ", handler: builtin.echo, mode: sync }"
        }
        let daemon = try Daemon(config)
        defer { daemon.stop() }

        let table = try runProcess(E2E.binaryPath, ["routes", "--config", daemon.configPath], timeout: 20)
        #expect(table.status == 0, "\(table.output)")
        var shown: [String: String] = [:]
        for line in table.stdoutString.split(separator: "\n").dropFirst() {
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            if columns.count >= 2 { shown[String(columns[1])] = String(columns[0]) }
        }
        #expect(shown["/get"] == "GET,HEAD", "a GET route serves HEAD, and the table says so: \(table.stdoutString)")

        for route in Self.methodRoutes {
            let methods = try #require(shown[route.path], "no row for \(route.path): \(table.stdoutString)")
            let served = methods.split(separator: ",").map(String.init)
            let refused = try #require(["DELETE", "PATCH", "OPTIONS", "PUT", "POST", "GET"].first { !served.contains($0) })
            let response = try curl(["-sS", "-o", "/dev/null", "-D", "-", "-X", refused,
                                     "http://127.0.0.1:\(daemon.port)\(route.path)"])
            let head = response.stdoutString
            #expect(head.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"), "\(refused) \(route.path): \(head)")
            let allow = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("allow:") }
                .map { String($0.dropFirst("allow:".count)).trimmingCharacters(in: .whitespaces) }
            #expect(allow?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } == served,
                    "\(route.path): routes shows \(methods), Allow is \(allow ?? "missing")")
        }
    }
}
