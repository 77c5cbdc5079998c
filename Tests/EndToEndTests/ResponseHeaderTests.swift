import Foundation
import Testing

/// Headers every response carries (RFC 9110 §6.6.1 Date, §10.2.4 Server),
/// and HEAD (§9.3.2).
@Suite("Response headers")
struct ResponseHeaderTests {
    static func checkDateAndServer(_ response: HTTPResponse, _ what: String,
                                   sourceLocation: SourceLocation = #_sourceLocation) {
        let server = response.header("Server")
        #expect(server != nil && !server!.isEmpty, "\(what): no Server header: \(visible(response.raw))",
                sourceLocation: sourceLocation)
        guard let date = response.header("Date") else {
            Issue.record("\(what): no Date header: \(visible(response.raw))", sourceLocation: sourceLocation)
            return
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        guard let parsed = formatter.date(from: date), date.count == 29 else {
            Issue.record("\(what): Date is not an IMF-fixdate: \(date)", sourceLocation: sourceLocation)
            return
        }
        #expect(abs(parsed.timeIntervalSinceNow) < 120, "\(what): Date \(date) is far from now",
                sourceLocation: sourceLocation)
    }

    @Test("Date and Server on 200, 404, 405, HEAD, 400 and 505")
    func dateAndServerEverywhere() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try daemon.connect()
        for (request, status, head) in [("GET /hello", 200, false), ("GET /missing", 404, false),
                                        ("DELETE /hello", 405, false), ("HEAD /hello", 200, true),
                                        ("POST /echo", 200, false)] {
            try client.send("\(request) HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n")
            let response = try client.readResponse(head: head)
            #expect(response.status == status, "\(request): \(visible(response.raw))")
            Self.checkDateAndServer(response, request)
        }
        for (wire, status) in [("GARBAGE\r\n\r\n", 400), ("GET /hello HTTP/2.0\r\nHost: localhost\r\n\r\n", 505)] {
            let response = try daemon.request(wire)
            #expect(response.status == status)
            Self.checkDateAndServer(response, "\(status)")
        }
    }

    @Test("HEAD /hello: GET's headers, Content-Length 6, no body")
    func headHasNoBody() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try daemon.connect()
        try client.send("HEAD /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let head = try client.readResponse(head: true)
        #expect(head.statusLine == "HTTP/1.1 200 OK")
        #expect(head.header("Content-Length") == "6", "\(head.headers)")
        #expect(head.header("Content-Type") != nil)
        // Nothing may follow the HEAD response's head.
        #expect(client.staysOpenAndSilent(for: 0.5), "bytes after a HEAD response: \(visible(client.buffer))")
        try client.send("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let get = try client.readResponse()
        #expect(get.status == 200)
        #expect(get.bodyString == "hello\n")
        #expect(get.header("Content-Type") == head.header("Content-Type"))
    }
}
