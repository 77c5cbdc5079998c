import Foundation
import Testing

/// Request smuggling over the wire (RFC 9112 §6.3, §5.1, §5.2): every
/// ambiguous framing is refused with 400 and the connection closed, so no
/// bytes after it are ever read as a request.
@Suite("Request smuggling")
struct SmugglingTests {
    static let ambiguous: [RefusedRequest] = [
        RefusedRequest(name: "Content-Length with Transfer-Encoding",
                       wire: "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                       status: 400),
        RefusedRequest(name: "Transfer-Encoding with Content-Length",
                       wire: "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
                       status: 400),
        RefusedRequest(name: "two differing Content-Length",
                       wire: "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
                       status: 400),
        RefusedRequest(name: "obs-fold",
                       wire: "GET /hello HTTP/1.1\r\nHost: localhost\r\nX-Folded: a\r\n b\r\n\r\n", status: 400),
        RefusedRequest(name: "space before colon",
                       wire: "GET /hello HTTP/1.1\r\nHost: localhost\r\nX-Space : a\r\n\r\n", status: 400),
        RefusedRequest(name: "missing Host in HTTP/1.1",
                       wire: "GET /hello HTTP/1.1\r\nX-No-Host: 1\r\n\r\n", status: 400),
        RefusedRequest(name: "negative Content-Length",
                       wire: "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n", status: 400),
        RefusedRequest(name: "invalid chunk size",
                       wire: "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
                       status: 400),
        RefusedRequest(name: "chunked not the final coding",
                       wire: "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
                       status: 400),
        RefusedRequest(name: "bare CR in a header value",
                       wire: "GET /hello HTTP/1.1\r\nHost: localhost\r\nX-A: a\rb\r\n\r\n", status: 400),
        RefusedRequest(name: "invalid character in a header name",
                       wire: "GET /hello HTTP/1.1\r\nHost: localhost\r\nX(A): a\r\n\r\n", status: 400),
        RefusedRequest(name: "Content-Length as a list",
                       wire: "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5, 5\r\n\r\nhello", status: 400),
        RefusedRequest(name: "chunk size with a sign",
                       wire: "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n",
                       status: 400),
    ]

    @Test("ambiguous framing: 400, then closed", arguments: ambiguous)
    func refused(_ refusal: RefusedRequest) throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        try expectRefusedAndClosed(daemon, refusal.wire, status: refusal.status)
    }

    @Test("ambiguous framing sent in two writes, split at every byte: still 400, then closed", arguments: ambiguous)
    func refusedAtEveryServerSplit(_ refusal: RefusedRequest) throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let bytes = Array(refusal.wire.utf8)
        for split in 1..<bytes.count {
            try expectRefusedAndClosed(daemon, refusal.wire, status: refusal.status, splitAt: split)
        }
    }

    @Test("a smuggled second request behind CL+TE is never answered")
    func smuggledRequestNotAnswered() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try daemon.connect()
        // Read by Content-Length, the body is "0\r\n\r\nGET /hello…"; read as
        // chunked, the body ends at "0\r\n\r\n" and a second request follows.
        let smuggled = "GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n"
        let chunkedEnd = "0\r\n\r\n"
        client.trySend("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(chunkedEnd.utf8.count + smuggled.utf8.count)\r\n"
                       + "Transfer-Encoding: chunked\r\n\r\n" + chunkedEnd + smuggled)
        let everything = client.readUntilClosed(timeout: 8)
        #expect(everything.closed, "connection still open: \(visible(everything.bytes))")

        var responses: [HTTPResponse] = []
        var rest = everything.bytes
        while !rest.isEmpty, case .complete(let response, let consumed) = ResponseParser.parse(rest, atEOF: true) {
            responses.append(response)
            rest.removeFirst(consumed)
        }
        #expect(rest.isEmpty, "bytes that are no response: \(visible(rest))")
        #expect(responses.count == 1, "expected exactly one response, got: \(visible(everything.bytes))")
        #expect(responses.first?.status == 400, "\(visible(everything.bytes))")
        #expect(!responses.contains { $0.bodyString == "hello\n" }, "the smuggled GET /hello was answered")
    }
}
