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
}
