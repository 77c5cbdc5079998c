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
}
