import Foundation
import Testing

/// Timeouts that protect the server from slow or idle clients.
@Suite("Timeouts")
struct TimeoutTests {
    @Test("slowloris: one header byte every 200 ms still gets 408 and a close")
    func slowloris() throws {
        let daemon = try Daemon(DaemonConfig(limits: ["header_timeout_ms": 1000]))
        defer { daemon.stop() }
        let client = try daemon.connect()
        let start = now()
        let trickle = Array("GET /hello HTTP/1.1\r\nHost: localhost\r\nX-Slow: ".utf8)
            + Array(repeating: UInt8(ascii: "a"), count: 200)
        var index = 0
        var closedAt: Double?
        // Keep sending one byte every 200 ms; between bytes, read whatever comes.
        while now() - start < 8 {
            if index < trickle.count, client.trySend([trickle[index]]) == nil { index += 1 }
            let deadline = now() + 0.2
            while now() < deadline, !client.closedByPeer { client.fill(until: deadline) }
            if client.closedByPeer { closedAt = now(); break }
        }
        let received = client.buffer
        #expect(closedAt != nil, "connection still open after 8 s of trickled bytes (\(index) bytes sent); got \(visible(received))")
        if let closedAt {
            let elapsed = closedAt - start
            #expect(elapsed < 5, "closed only after \(elapsed) s")
            #expect(elapsed >= 0.9, "closed after \(elapsed) s, before header_timeout_ms 1000")
        }
        guard case .complete(let response, _) = ResponseParser.parse(received, atEOF: true) else {
            Issue.record("no complete response before the close: \(visible(received))")
            return
        }
        #expect(response.status == 408, "\(visible(received))")
        #expect(index > 3, "only \(index) bytes were trickled: the test did not exercise slowloris")
    }

    @Test("idle keep-alive connection is closed after idle_timeout_ms")
    func idleTimeout() throws {
        let daemon = try Daemon(DaemonConfig(limits: ["idle_timeout_ms": 1000]))
        defer { daemon.stop() }
        let client = try daemon.connect()
        let start = now()   // before the request: the server's idle clock starts after its answer, so later than this
        try client.send("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(!response.saysClose)
        let rest = client.readUntilClosed(timeout: 5)
        let elapsed = now() - start
        #expect(rest.closed, "idle connection still open after 5 s with idle_timeout_ms 1000")
        #expect(elapsed >= 0.95, "idle connection closed after only \(elapsed) s")
        // An idle close is silent: a response here would be read by a client
        // as the answer to its next request.
        #expect(rest.bytes.isEmpty, "bytes sent on an idle connection: \(visible(rest.bytes))")
    }

    @Test("an open connection that never sends a byte is closed after header_timeout_ms, silently")
    func silentConnectionClosed() throws {
        let daemon = try Daemon(DaemonConfig(limits: ["header_timeout_ms": 1000, "idle_timeout_ms": 30000]))
        defer { daemon.stop() }
        let start = now()
        let client = try daemon.connect()
        let rest = client.readUntilClosed(timeout: 15)
        let elapsed = now() - start
        #expect(rest.closed, "a connection that sent nothing is still open after 15 s")
        #expect(elapsed >= 0.9 && elapsed < 10, "closed after \(elapsed) s: header_timeout_ms is 1 s, idle_timeout_ms 30 s")
        #expect(rest.bytes.isEmpty, "a 408 to a client that asked nothing: \(visible(rest.bytes))")
    }
}
