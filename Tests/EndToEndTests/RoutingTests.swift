import Foundation
import Testing

/// Routing on the decoded path.
@Suite("Routing")
struct RoutingTests {
    @Test("GET /h%65llo matches /hello")
    func percentDecodedPath() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let response = try daemon.request("GET /h%65llo HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(response.status == 200, "\(visible(response.raw))")
        #expect(response.bodyString == "hello\n")
    }

    @Test("a query string does not affect routing; echo reports path and query apart")
    func queryIsNotPath() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let hello = try daemon.request("GET /hello?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(hello.status == 200)
        #expect(hello.bodyString == "hello\n")
        let response = try daemon.request("GET /echo?a=1&b=two HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let echo = try Echo(response)
        #expect(echo.path == "/echo")
        #expect(echo.queryText == "a=1&b=two")
    }

    @Test("the most specific route wins: literal, then {param}, then {rest...}; 405 names the methods")
    func specificity() throws {
        func text(_ path: String, _ body: String, methods: String = "[GET]") -> String {
            #"{ path: "\#(path)", methods: \#(methods), handler: builtin.text, mode: sync, options: { body: "\#(body)" } }"#
        }
        let daemon = try Daemon(DaemonConfig(routes: [
            text("/users/{id}/files/{rest...}", "files"),
            text("/users/{id}", "user"),
            text("/users/me", "me"),
            text("/users/{id}/avatar", "avatar", methods: "[PUT]"),
        ]))
        defer { daemon.stop() }
        for (path, expected) in [("/users/me", "me"), ("/users/42", "user"), ("/users/42/files/a/b.txt", "files"),
                                 ("/users/me/files/", "files"), ("/users/", "404"), ("/users/42/files", "404")] {
            let response = try daemon.request("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n")
            let got = response.status == 200 ? response.bodyString : String(response.status)
            #expect(got == expected, "GET \(path)")
        }
        let wrongMethod = try daemon.request("GET /users/42/avatar HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(wrongMethod.status == 405)
        #expect(wrongMethod.header("Allow") == "PUT")
    }

    @Test("paths that would mean one thing here and another behind a proxy are 400", arguments: [
        ("GET /a%2Fb HTTP/1.1", "encoded slash in path"),
        ("GET /echo/%2e%2e/etc HTTP/1.1", "dot segment in path"),
        ("GET /echo/../hello HTTP/1.1", "dot segment in path"),
        ("GET http:///hello HTTP/1.1", "invalid request target"),
        ("GET * HTTP/1.1", "invalid request target"),
    ])
    func refusedPaths(_ requestLine: String, _ reason: String) throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let response = try daemon.request("\(requestLine)\r\nHost: localhost\r\n\r\n")
        #expect(response.status == 400)
        #expect(response.bodyString == reason + "\n")
    }

    @Test("a catch-all /{rest...} also answers /")
    func catchAllRoot() throws {
        let daemon = try Daemon(DaemonConfig(routes: [#"{ path: "/{rest...}", handler: builtin.text, mode: sync, options: { body: "any" } }"#]))
        defer { daemon.stop() }
        for path in ["/", "/a", "/a/b/"] {
            #expect(try daemon.request("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n").bodyString == "any", "GET \(path)")
        }
    }

    @Test("allow: [\"::1\"] admits a unix-socket client (local) but not 127.0.0.1; 10.0.0.0/8 admits neither")
    func unixPeerIsLoopback() throws {
        let socketDir = try E2E.makeTempDir()
        defer { try? FileManager.default.removeItem(at: socketDir) }
        let socketPath = socketDir.appendingPathComponent("s.sock").path
        let daemon = try Daemon(DaemonConfig(listen: ["127.0.0.1:0", "unix:\(socketPath)"], routes: [
            #"{ path: /local, handler: builtin.text, mode: sync, allow: ["::1"], options: { body: "local" } }"#,
            #"{ path: /elsewhere, handler: builtin.text, mode: sync, allow: ["10.0.0.0/8"], options: { body: "x" } }"#,
        ]))
        defer { daemon.stop() }
        let client = try RawClient(unixPath: socketPath)
        try client.send("GET /local HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try client.readResponse().bodyString == "local")
        try client.send("GET /elsewhere HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try client.readResponse().status == 403)
        // Over TCP from 127.0.0.1: an IPv4 address, not ::1.
        #expect(try daemon.request("GET /local HTTP/1.1\r\nHost: localhost\r\n\r\n").status == 403)
        #expect(try daemon.request("GET /elsewhere HTTP/1.1\r\nHost: localhost\r\n\r\n").status == 403)
    }

    @Test("absolute-form target: GET http://localhost/hello is routed by its path")
    func absoluteForm() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let response = try daemon.request("GET http://localhost/h%65llo?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(response.status == 200)
        #expect(response.bodyString == "hello\n")
    }

    @Test("the path is percent-decoded once: /h%2565llo is /h%65llo, not /hello")
    func decodedOnce() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        #expect(try daemon.request("GET /h%2565llo HTTP/1.1\r\nHost: localhost\r\n\r\n").status == 404)
    }
}
