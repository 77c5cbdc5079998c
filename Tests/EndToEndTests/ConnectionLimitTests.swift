import Foundation
import Testing

/// Many connections at once, and the `max_connections` cap.
@Suite("Connection limits", .serialized)
struct ConnectionLimitTests {
    @Test("1,000 concurrent connections all get 200, twice over on the same sockets")
    func thousandConnections() throws {
        _ = E2E.processSetup
        #expect(E2E.currentFileLimit() >= 2200, "RLIMIT_NOFILE is only \(E2E.currentFileLimit())")
        let daemon = try Daemon(DaemonConfig(eventLoops: 2))
        defer { daemon.stop() }

        let mass = MassClient(port: daemon.port, count: 1000)
        let first = mass.roundTrip("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n", timeout: 45)
        let ok1 = first.values.filter { $0.status == 200 && $0.bodyString == "hello\n" }.count
        #expect(ok1 == 1000, "round 1: \(ok1) of 1000 got 200 hello; failures (first 5): \(mass.failures.sorted { $0.key < $1.key }.prefix(5))")
        #expect(mass.failures.isEmpty, "\(mass.failures.count) failed")

        // All 1,000 are still open on the server: a second request on each works.
        let second = mass.roundTrip("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n", timeout: 45)
        let ok2 = second.values.filter { $0.status == 200 && $0.bodyString == "hello\n" }.count
        #expect(ok2 == 1000, "round 2: \(ok2) of 1000 got 200 hello; failures (first 5): \(mass.failures.sorted { $0.key < $1.key }.prefix(5))")

        let health = try daemon.request("GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(health.status == 200)
    }

    @Test("max_connections: 5 — a 6th connection is closed at once, the 5 keep working")
    func maxConnections() throws {
        let daemon = try Daemon(DaemonConfig(limits: ["max_connections": 5]))
        defer { daemon.stop() }

        var clients: [RawClient] = []
        for i in 0..<5 {
            let client = try daemon.connect()
            try client.send("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200, "connection \(i)")
            clients.append(client)
        }

        let sixth = try daemon.connect()
        let start = now()
        let result = sixth.readUntilClosed(timeout: 5)
        #expect(result.closed, "6th connection still open 5 s later with max_connections 5")
        #expect(now() - start < 3, "6th connection closed only after \(now() - start) s")
        #expect(result.bytes.isEmpty, "6th connection got bytes: \(visible(result.bytes))")

        for (i, client) in clients.enumerated() {
            try client.send("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200, "connection \(i) after the 6th was refused")
        }

        // Freeing a slot lets a new connection in.
        clients.removeFirst()   // closes it
        var admitted = false
        let deadline = now() + 5
        while !admitted, now() < deadline {
            sleep(seconds: 0.1)
            let client = try daemon.connect()
            client.trySend("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
            if let response = try? client.readResponse(timeout: 2), response.status == 200 { admitted = true }
        }
        #expect(admitted, "no new connection admitted after one of the 5 closed")
    }

    /// utime + stime of `pid` and its threads, in seconds (/proc/PID/stat fields 14, 15).
    static func cpuSeconds(_ pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let fields = stat[stat.range(of: ") ")!.upperBound...].split(separator: " ")
        return (Double(fields[11])! + Double(fields[12])!) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    @Test("out of file descriptors (EMFILE): excess connections are closed, the loop does not spin, service resumes",
          .timeLimit(.minutes(2)))
    func outOfDescriptors() throws {
        guard let prlimit = E2E.which("prlimit") else { throw E2EError("prlimit (util-linux) is not on PATH") }
        let dir = try E2E.makeTempDir()
        let config = DaemonConfig(limits: ["header_timeout_ms": 60000, "idle_timeout_ms": 60000])
        // 64 descriptors: the daemon's own (listener, epoll, eventfd, signalfd, timer, logs,
        // the reserve) leave room for a few dozen connections, well under max_connections.
        let daemon = try Daemon(yaml: config.yaml(controlPath: dir.appendingPathComponent("control.sock").path), dir: dir,
                                expectedListeners: 1, launcher: [prlimit, "--nofile=64", "--"])
        defer { daemon.stop() }

        var clients: [RawClient] = []
        for _ in 0..<120 { clients.append(try daemon.connect()) }
        sleep(seconds: 1)
        let before = try Self.cpuSeconds(daemon.pid)
        sleep(seconds: 2)
        let spent = try Self.cpuSeconds(daemon.pid) - before
        #expect(spent < 0.5, "the daemon used \(spent) s of CPU in 2 s while out of descriptors: spinning")

        // Some connections were refused (closed at once); those admitted are served.
        var served = 0, closed = 0
        for client in clients {
            if client.trySend("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n") == nil,
               let response = try? client.readResponse(timeout: 2), response.status == 200 {
                served += 1
            } else {
                closed += 1
            }
        }
        #expect(served > 10, "\(served) served, \(closed) closed")
        #expect(closed > 10, "\(served) served, \(closed) closed: the limit was never reached")

        clients.removeAll()   // frees the daemon's descriptors
        var recovered = false
        let deadline = now() + 10
        while !recovered, now() < deadline {
            sleep(seconds: 0.2)
            if let response = try? daemon.request("GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n", timeout: 2),
               response.status == 200 { recovered = true }
        }
        #expect(recovered, "no answer after the connections closed; log:\n\(daemon.log)")
    }
}
