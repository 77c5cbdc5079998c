import Foundation
import Testing

/// Listener kinds other than IPv4, and the lifecycle around them.
@Suite("Listeners and lifecycle")
struct ListenerTests {
    @Test("[::1]:0 and unix:/tmp/… listeners both serve")
    func ipv6AndUnix() throws {
        let socketPath = E2E.uniqueSocketPath()
        defer { unlink(socketPath) }
        let daemon = try Daemon(DaemonConfig(listen: ["[::1]:0", "unix:\(socketPath)"]))
        defer { daemon.stop() }
        let v6Port = try #require(daemon.ipv6Port, "no [::1]:PORT in \(daemon.listeners)")
        #expect(daemon.listeners.contains { $0.hasPrefix("unix:") || $0.hasPrefix("/") },
                "no unix listener logged: \(daemon.listeners)")

        let v6 = try RawClient(port: v6Port, host: "::1")
        try v6.send("GET /hello HTTP/1.1\r\nHost: [::1]\r\n\r\n")
        let v6Response = try v6.readResponse()
        #expect(v6Response.status == 200)
        #expect(v6Response.bodyString == "hello\n")

        let unix = try RawClient(unixPath: socketPath)
        try unix.send("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let unixResponse = try unix.readResponse()
        #expect(unixResponse.status == 200)
        #expect(unixResponse.bodyString == "hello\n")

        let viaCurl6 = try curl(["-s", "-g", "http://[::1]:\(v6Port)/hello"])
        #expect(viaCurl6.status == 0, "\(viaCurl6.stderrString)")
        #expect(viaCurl6.stdoutString == "hello\n")

        let viaCurlUnix = try curl(["-s", "--unix-socket", socketPath, "http://localhost/hello"])
        #expect(viaCurlUnix.status == 0, "\(viaCurlUnix.stderrString)")
        #expect(viaCurlUnix.stdoutString == "hello\n")
    }

    @Test("SIGTERM with an idle keep-alive connection: clean exit 0, connection closed")
    func sigtermExitsZero() throws {
        let daemon = try Daemon(DaemonConfig(limits: ["shutdown_timeout_ms": 3000]))
        let client = try daemon.connect()
        try client.send("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try client.readResponse().status == 200)

        let exit = daemon.stop(timeout: 15)
        #expect(exit == .exited(0), "\(exit); log:\n\(daemon.log)")
        let rest = client.readUntilClosed(timeout: 2)
        #expect(rest.closed, "idle connection still open after the daemon exited")
    }

    @Test("SIGTERM: new connections refused at once; a kept-alive client's /readyz gets 503 and Connection: close; exit 0")
    func drainAnswersReadyz503() throws {
        let daemon = try Daemon(DaemonConfig(limits: ["shutdown_timeout_ms": 5000]))
        defer { daemon.stop() }
        let client = try daemon.connect()
        try client.send("GET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try client.readResponse().status == 200)
        // Half a request now: the connection is mid-request, not idle, when the drain starts,
        // so the head timeout (10 s), not the 1 s idle grace, governs it however slow this test runs.
        try client.send("GET /readyz HTTP/1.1\r\n")

        daemon.process.kill(SIGTERM)
        let signalled = now()
        // The main thread takes the signal from its signalfd; from then on connecting is refused.
        var refusal: String?
        while refusal == nil, now() - signalled < 5 {
            do {
                _ = try daemon.connect()
                sleep(seconds: 0.01)
            } catch {
                refusal = "\(error)"
            }
        }
        #expect(refusal?.contains("refused") == true, "connecting after SIGTERM: \(refusal ?? "still accepted after 5 s")")
        try client.send("Host: localhost\r\n\r\n")
        let draining = try client.readResponse()
        #expect(draining.status == 503)
        #expect(draining.bodyString == "not ready: draining\n")
        #expect(draining.saysClose)
        client.shutdownWrite()
        #expect(client.readUntilClosed(timeout: 5).closed)
        let exit = daemon.process.waitOrKill(timeout: 15)   // no second signal: that one means "exit now"
        #expect(exit == .exited(0), "\(exit); log:\n\(daemon.log)")
    }

    @Test("health and readiness endpoints")
    func healthAndReady() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let live = try daemon.request("GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(live.status == 200)
        #expect(live.bodyString.trimmingCharacters(in: .whitespacesAndNewlines) == "ok", "\(visible(live.body))")
        let ready = try daemon.request("GET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(ready.status == 200)
        #expect(ready.bodyString.trimmingCharacters(in: .whitespacesAndNewlines) == "ready", "\(visible(ready.body))")
    }

    @Test("?verbose lists each check; only the item verbose counts")
    func verboseChecks() throws {
        let daemon = try Daemon(DaemonConfig(eventLoops: 2))
        defer { daemon.stop() }
        for target in ["/livez?verbose", "/livez?a=1&verbose=1"] {
            let live = try daemon.request("GET \(target) HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(live.status == 200)
            let lines = live.bodyString.split(separator: "\n").map(String.init)
            #expect(lines.first == "ok", "\(target): \(lines)")
            for loop in ["sy-loop-0", "sy-loop-1"] {
                #expect(lines.contains { $0.hasPrefix("[+] loop \(loop): last turn ") && $0.hasSuffix("(limit 2000 ms)") },
                        "\(target): \(lines)")
            }
        }
        let notVerbose = try daemon.request("GET /livez?verbosely HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(notVerbose.bodyString == "ok\n")
        let ready = try daemon.request("GET /readyz?verbose HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let readyLines = ready.bodyString.split(separator: "\n").map(String.init)
        #expect(Array(readyLines.prefix(2)) == ["ready", "[+] lifecycle: serving"], "\(readyLines)")
        #expect(readyLines.contains { $0.hasPrefix("[+] config: generation 1, ") && $0.contains(", hash ") }, "\(readyLines)")
        #expect(readyLines.contains("[+] last reload: none"), "\(readyLines)")
    }
}
