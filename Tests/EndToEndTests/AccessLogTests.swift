import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The access log end to end: a real daemon over loopback writes one logfmt
/// line per answered request,
///
///     time=2026-12-02T15:04:05.123Z client=127.0.0.1:50412 method=GET target="/hello?x=1"
///     status=200 bytes=152 duration_ms=0.021 route=/hello mode=sync
///
/// and every field is checked against what the client itself saw: its own
/// socket address, the exact bytes of the answer, the time around the
/// exchange, the route and mode the config gave. Then the ways the log is
/// configured, sampled, rotated and refused.
@Suite("Access log")
struct AccessLogTests {
    // MARK: - Lines

    /// One parsed access-log line.
    struct Line: CustomStringConvertible {
        var raw: String
        var time: String
        var client: String
        var method: String
        var target: String
        var status: Int
        var bytes: Int
        /// The text after `duration_ms=`: `12.345` or `-`.
        var duration: String
        var route: String
        var mode: String
        var description: String { raw }

        /// Milliseconds, or nil for `-`.
        var durationMs: Double? { Double(duration) }

        /// The fields in their fixed order, nothing else on the line; the
        /// target holds no raw `"` or `\`, only their `\x22` and `\x5C`.
        nonisolated(unsafe) static let pattern = #/^time=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) client=(\S+) method=(\S+) target="((?:[^"\\]|\\x22|\\x5C)*)" status=(\d{3}) bytes=(\d+) duration_ms=(\d+\.\d{3}|-) route=(\S+) mode=(\S+)$/#

        init?(_ text: Substring) {
            guard let m = text.wholeMatch(of: Self.pattern), let status = Int(m.5), let bytes = Int(m.6) else { return nil }
            raw = String(text)
            time = String(m.1); client = String(m.2); method = String(m.3); target = String(m.4)
            self.status = status; self.bytes = bytes
            duration = String(m.7); route = String(m.8); mode = String(m.9)
        }

        /// The wall-clock time it names.
        var date: Date? {
            let format = ISO8601DateFormatter()
            format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return format.date(from: time)
        }
    }

    /// The finished access-log lines in `text` (lines starting `time=`; the
    /// daemon's own log lines start with a bare timestamp), and those of them
    /// that do not have the access log's shape.
    static func parse(_ text: String) -> (lines: [Line], malformed: [String]) {
        let finished = text.hasSuffix("\n") ? Substring(text) : text[..<(text.lastIndex(of: "\n") ?? text.startIndex)]
        var lines: [Line] = [], malformed: [String] = []
        for row in finished.split(separator: "\n", omittingEmptySubsequences: false) where row.hasPrefix("time=") {
            if let line = Line(row) { lines.append(line) } else { malformed.append(String(row)) }
        }
        return (lines, malformed)
    }

    static func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    /// Polls `path` until it holds at least `count` lines (or `timeout`
    /// passes), then waits `settle` more seconds so that extra lines, if the
    /// daemon writes any, are seen too. Malformed lines are recorded as issues.
    static func waitForLines(_ path: String, count: Int, timeout: Double = 10, settle: Double = 0.3,
                             sourceLocation: SourceLocation = #_sourceLocation) -> [Line] {
        _ = waitUntil(timeout: timeout) { parse(read(path)).lines.count >= count }
        if settle > 0 { sleep(seconds: settle) }
        let (lines, malformed) = parse(read(path))
        #expect(malformed.isEmpty, "lines not in the access log's format: \(malformed)", sourceLocation: sourceLocation)
        return lines
    }

    // MARK: - Clients

    /// The address of our end of `fd`, as the access log writes a client:
    /// `127.0.0.1:50412`, `[::1]:50412`, `unix` for a unix socket.
    static func localAddress(_ fd: Int32) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard rc == 0 else { return "getsockname failed: \(String(cString: strerror(errno)))" }
        switch Int32(storage.ss_family) {
        case AF_INET:
            var sin = withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in.self) }
            var text = [CChar](repeating: 0, count: 64)
            inet_ntop(AF_INET, &sin.sin_addr, &text, socklen_t(text.count))
            return "\(String(cString: text)):\(UInt16(bigEndian: sin.sin_port))"
        case AF_INET6:
            var sin6 = withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in6.self) }
            var text = [CChar](repeating: 0, count: 64)
            inet_ntop(AF_INET6, &sin6.sin6_addr, &text, socklen_t(text.count))
            return "[\(String(cString: text))]:\(UInt16(bigEndian: sin6.sin6_port))"
        default:
            return "unix"
        }
    }

    /// What the client saw of one exchange.
    struct Sent {
        var client: String
        /// Exactly the answer's bytes on the wire.
        var received: [UInt8]
        var status: Int
        var body: String
        var before: Date
        var after: Date
    }

    /// One request on a fresh connection; reads one whole answer (`head`: the
    /// request was HEAD).
    static func ask(_ connect: () throws -> RawClient, _ request: String, head: Bool = false) throws -> Sent {
        let before = Date()
        let client = try connect()
        let address = localAddress(client.fd)
        try client.send(request)
        let response = try client.readResponse(head: head, timeout: 15)
        return Sent(client: address, received: response.raw, status: response.status, body: response.bodyString,
                    before: before, after: Date())
    }

    /// Sends `bytes` on a fresh connection and reads until the server closes:
    /// for answers that end the connection (400, 408).
    static func askUntilClosed(_ daemon: Daemon, _ bytes: String, timeout: Double = 10) throws -> Sent {
        let before = Date()
        let client = try daemon.connect()
        let address = localAddress(client.fd)
        try client.send(bytes)
        let (received, closed) = client.readUntilClosed(timeout: timeout)
        guard closed else { throw E2EError("no close within \(timeout) s after \(visible(Array(bytes.utf8))); got \(visible(received))") }
        let status: Int
        switch ResponseParser.parse(received, atEOF: true) {
        case .complete(let response, _): status = response.status
        default: throw E2EError("not one answer: \(visible(received))")
        }
        return Sent(client: address, received: received, status: status, body: "", before: before, after: Date())
    }

    static func get(_ target: String, method: String = "GET", headers: String = "") -> String {
        "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\n\(headers)\r\n"
    }

    /// Checks every field of `line` against the exchange `sent`: a request's
    /// method, target (as logged, escaped), route and mode, or dashes for
    /// an answer without one (`method == nil`).
    static func expect(_ line: Line?, _ sent: Sent, method: String?, target: String? = nil, status: Int,
                       route: String = "-", mode: String = "-", minMs: Double = 0, maxMs: Double = 5000,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        guard let line else {
            Issue.record("no access-log line for the \(status) answer", sourceLocation: sourceLocation)
            return
        }
        let context = "line: \(line.raw)"
        #expect(sent.status == status, "the client got \(sent.status); \(context)", sourceLocation: sourceLocation)
        #expect(line.status == status, "\(context)", sourceLocation: sourceLocation)
        #expect(line.client == sent.client, "client must be the client socket's own address \(sent.client); \(context)",
                sourceLocation: sourceLocation)
        #expect(line.bytes == sent.received.count,
                "bytes must be the \(sent.received.count) bytes the client received: \(visible(sent.received, limit: 300)); \(context)",
                sourceLocation: sourceLocation)
        if let method {
            #expect(line.method == method, "\(context)", sourceLocation: sourceLocation)
            #expect(line.target == target, "\(context)", sourceLocation: sourceLocation)
            if let ms = line.durationMs {
                #expect(ms >= minMs && ms < maxMs, "duration_ms must be in \(minMs)..<\(maxMs); \(context)", sourceLocation: sourceLocation)
            } else {
                Issue.record("duration_ms must be a number for an answered request; \(context)", sourceLocation: sourceLocation)
            }
        } else {
            #expect(line.method == "-" && line.target == "-" && line.duration == "-",
                    "an answer without a request logs method=- target=\"-\" duration_ms=-; \(context)", sourceLocation: sourceLocation)
        }
        #expect(line.route == route && line.mode == mode, "want route=\(route) mode=\(mode); \(context)", sourceLocation: sourceLocation)
        // UTC, milliseconds, between the request going out and its answer coming back (1 s either side for rounding and scheduling).
        if let date = line.date {
            #expect(date >= sent.before.addingTimeInterval(-1) && date <= sent.after.addingTimeInterval(1),
                    "time \(line.time) is not within the exchange (\(sent.before) … \(sent.after)); \(context)",
                    sourceLocation: sourceLocation)
        } else {
            Issue.record("time \(line.time) is not an ISO 8601 UTC time; \(context)", sourceLocation: sourceLocation)
        }
    }

    // MARK: - Configs

    static let routes = [
        #"{ path: /hello, handler: builtin.text, mode: sync, options: { body: "hello\n" } }"#,
        #"{ path: /echo, methods: [GET, HEAD, POST, PUT], handler: builtin.echo, mode: sync }"#,
        #"{ path: "/users/{id}", handler: builtin.text, mode: sync, options: { body: "user\n" } }"#,
        #"{ path: /delay, handler: builtin.delay, mode: async }"#,
        #"{ path: /late, handler: builtin.delay, mode: async, timeout_ms: 100 }"#,
        #"{ path: /sleep, handler: builtin.sleep, mode: thread }"#,
        #"{ path: /cpu, handler: builtin.cpu, mode: process }"#,
    ]

    /// One event loop (so lines come in answer order and sampling counts
    /// every request), one worker process, and `accessLog` as YAML.
    static func config(_ accessLog: String?, listen: [String] = ["127.0.0.1:0"], eventLoops: Int = 1,
                       limits: [String: Int] = [:], routes: [String] = routes) -> DaemonConfig {
        var extra = "process_pool: { size: 1 }\n"
        if let accessLog { extra += "access_log: \(accessLog)\n" }
        return DaemonConfig(listen: listen, eventLoops: eventLoops, limits: limits, routes: routes, extra: extra)
    }

    /// A temp dir for log files, apart from the daemon's own.
    final class LogDir {
        let url: URL
        init() throws { url = try E2E.makeTempDir() }
        deinit { try? FileManager.default.removeItem(at: url) }
        func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    }

    /// The umask this process (and so the daemon) runs with.
    static func umask() -> mode_t {
        for line in read("/proc/self/status").split(separator: "\n") where line.hasPrefix("Umask:") {
            if let value = mode_t(line.dropFirst("Umask:".count).trimmingCharacters(in: .whitespaces), radix: 8) { return value }
        }
        return 0o022
    }

    static func permissions(_ path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o7777
    }

    // MARK: - Every field

    /// Guards each field for each kind of answer: a fixed sync answer, HEAD,
    /// 404, 405, a POST with a body, a route with a parameter, async, thread
    /// and process hand-offs (durations at least what the handler waited),
    /// a 504 for a hand-off over its timeout_ms, a target with `"` and `\`,
    /// a malformed request's 400 and a 408 for a head that never finished:
    /// one line each, in order, nothing more.
    @Test("every field of every kind of answer", .timeLimit(.minutes(2)))
    func everyField() throws {
        let logs = try LogDir()
        let logPath = logs.path("access.log")
        let daemon = try Daemon(Self.config(logPath, limits: ["header_timeout_ms": 400]))
        defer { daemon.stop() }
        let connect = { try daemon.connect() }

        var sent: [Sent] = []
        sent.append(try Self.ask(connect, Self.get("/hello?x=1")))
        sent.append(try Self.ask(connect, Self.get("/hello", method: "HEAD"), head: true))
        sent.append(try Self.ask(connect, Self.get("/nope/x?y")))
        sent.append(try Self.ask(connect, Self.get("/hello", method: "DELETE")))
        sent.append(try Self.ask(connect, "POST /echo?form HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world"))
        sent.append(try Self.ask(connect, Self.get("/users/42")))
        sent.append(try Self.ask(connect, Self.get("/delay?ms=50")))
        sent.append(try Self.ask(connect, Self.get("/sleep?ms=30")))
        sent.append(try Self.ask(connect, Self.get("/cpu?rounds=20000")))
        sent.append(try Self.ask(connect, Self.get("/late?ms=3000")))
        sent.append(try Self.ask(connect, Self.get(#"/echo?q="a\b"&r=\\"#)))
        sent.append(try Self.askUntilClosed(daemon, "garbage\r\n\r\n"))
        sent.append(try Self.askUntilClosed(daemon, "GET /hello HTTP/1.1\r\nHost: loc"))

        // The answers themselves are what the routes give (so the lines are about the right exchanges).
        #expect(sent[0].body == "hello\n")
        #expect(sent[4].body.contains("hello world"), "\(sent[4].body)")
        #expect(sent[8].body == "dea8cac835294525", "\(sent[8].body)")

        let lines = Self.waitForLines(logPath, count: sent.count)
        #expect(lines.count == sent.count, "want \(sent.count) lines, one per answer; got:\n\(lines.map(\.raw).joined(separator: "\n"))\nlog:\n\(daemon.log)")
        func line(_ i: Int) -> Line? { i < lines.count ? lines[i] : nil }

        Self.expect(line(0), sent[0], method: "GET", target: "/hello?x=1", status: 200, route: "/hello", mode: "sync")
        Self.expect(line(1), sent[1], method: "HEAD", target: "/hello", status: 200, route: "/hello", mode: "sync")
        Self.expect(line(2), sent[2], method: "GET", target: "/nope/x?y", status: 404)
        Self.expect(line(3), sent[3], method: "DELETE", target: "/hello", status: 405)
        Self.expect(line(4), sent[4], method: "POST", target: "/echo?form", status: 200, route: "/echo", mode: "sync")
        Self.expect(line(5), sent[5], method: "GET", target: "/users/42", status: 200, route: "/users/{id}", mode: "sync")
        Self.expect(line(6), sent[6], method: "GET", target: "/delay?ms=50", status: 200, route: "/delay", mode: "async", minMs: 50)
        Self.expect(line(7), sent[7], method: "GET", target: "/sleep?ms=30", status: 200, route: "/sleep", mode: "thread", minMs: 30)
        Self.expect(line(8), sent[8], method: "GET", target: "/cpu?rounds=20000", status: 200, route: "/cpu", mode: "process")
        // The 504 timer is armed from the loop turn's clock (whole ms), so it
        // may fire a fraction of a millisecond before 100 ms have passed.
        Self.expect(line(9), sent[9], method: "GET", target: "/late?ms=3000", status: 504, route: "/late", mode: "async",
                    minMs: 98, maxMs: 3000)
        Self.expect(line(10), sent[10], method: "GET", target: #"/echo?q=\x22a\x5Cb\x22&r=\x5C\x5C"#, status: 200,
                    route: "/echo", mode: "sync")
        Self.expect(line(11), sent[11], method: nil, status: 400)
        Self.expect(line(12), sent[12], method: nil, status: 408)

        // HEAD's answer is GET's without the 6-byte body, and the log says so.
        if let get = line(0), let head = line(1) { #expect(head.bytes == get.bytes - 6, "\(get.raw)\n\(head.raw)") }
        // The file is made 0640 (less what the umask takes away).
        #expect(Self.permissions(logPath) == 0o640 & ~Self.umask(), "mode \(String(Self.permissions(logPath) ?? 0, radix: 8))")
        #expect(daemon.stop() == .exited(0))
    }

    /// Guards the keep-alive case: several answers on one connection all name
    /// the same client, and an answer after a 404 (no route) gets its route back.
    @Test("keep-alive: one client, each answer its own route", .timeLimit(.minutes(1)))
    func keepAlive() throws {
        let logs = try LogDir()
        let logPath = logs.path("access.log")
        let daemon = try Daemon(Self.config(logPath))
        defer { daemon.stop() }
        let client = try daemon.connect()
        let address = Self.localAddress(client.fd)
        var sizes: [Int] = []
        for (method, target) in [("GET", "/hello"), ("GET", "/missing"), ("GET", "/users/7"), ("GET", "/echo"), ("HEAD", "/echo")] {
            try client.send(Self.get(target, method: method))
            sizes.append(try client.readResponse(head: method == "HEAD").raw.count)
        }
        let lines = Self.waitForLines(logPath, count: 5)
        #expect(lines.map(\.client) == Array(repeating: address, count: 5), "\(lines)")
        #expect(lines.map(\.method) == ["GET", "GET", "GET", "GET", "HEAD"], "\(lines)")
        #expect(lines.map(\.route) == ["/hello", "-", "/users/{id}", "/echo", "/echo"], "\(lines)")
        #expect(lines.map(\.mode) == ["sync", "-", "sync", "sync", "sync"], "\(lines)")
        #expect(lines.map(\.status) == [200, 404, 200, 200, 200], "\(lines)")
        // A handler's HEAD answer (no body) is counted as sent, head only.
        #expect(lines.map(\.bytes) == sizes, "\(lines)")
    }

    /// Guards IPv6 clients: `[::1]:port`, the client socket's own port.
    @Test("an IPv6 client is [::1]:port", .enabled(if: AccessLogTests.hasIPv6Loopback()), .timeLimit(.minutes(1)))
    func ipv6Client() throws {
        let logs = try LogDir()
        let logPath = logs.path("access.log")
        let daemon = try Daemon(Self.config(logPath, listen: ["[::1]:0"]))
        defer { daemon.stop() }
        let port = try #require(daemon.ipv6Port, "no [::1] listener in \(daemon.listeners)")
        let sent = try Self.ask({ try RawClient(port: port, host: "::1") }, Self.get("/hello?six"))
        #expect(sent.client.hasPrefix("[::1]:"), "\(sent.client)")
        let lines = Self.waitForLines(logPath, count: 1)
        #expect(lines.count == 1, "\(lines)")
        Self.expect(lines.first, sent, method: "GET", target: "/hello?six", status: 200, route: "/hello", mode: "sync")
    }

    /// Whether ::1 can be bound here (not in every container).
    static func hasIPv6Loopback() -> Bool {
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in6()
        addr.sin6_family = sa_family_t(AF_INET6)
        addr.sin6_addr = in6addr_loopback
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        } == 0
    }

    /// Guards the route field for logfmt readers: a route path holding `=`
    /// or `"` is quoted (and `"` escaped as in a target); a plain one is bare.
    @Test("a route path a logfmt reader would split is quoted", .timeLimit(.minutes(1)))
    func quotedRoute() throws {
        let logs = try LogDir()
        let logPath = logs.path("access.log")
        let daemon = try Daemon(Self.config(logPath, routes: [
            #"{ path: "/k=v", handler: builtin.text, mode: sync }"#,
            #"{ path: '/q"x', handler: builtin.text, mode: sync }"#,
            #"{ path: /plain, handler: builtin.text, mode: sync }"#,
        ]))
        defer { daemon.stop() }
        let connect = { try daemon.connect() }
        let sent = [try Self.ask(connect, Self.get("/k=v")), try Self.ask(connect, Self.get("/q\"x")), try Self.ask(connect, Self.get("/plain"))]
        let lines = Self.waitForLines(logPath, count: 3)
        #expect(lines.count == 3)
        for (i, (target, route)) in [("/k=v", #""/k=v""#), (#"/q\x22x"#, #""/q\x22x""#), ("/plain", "/plain")].enumerated()
        where i < lines.count {
            Self.expect(lines[i], sent[i], method: "GET", target: target, status: 200, route: route, mode: "sync")
        }
    }

    /// Guards a unix-socket listener's clients: `client=unix`.
    @Test("a unix-socket client is client=unix", .timeLimit(.minutes(1)))
    func unixClient() throws {
        let logs = try LogDir()
        let logPath = logs.path("access.log")
        let socketPath = E2E.uniqueSocketPath()
        defer { unlink(socketPath) }
        let daemon = try Daemon(Self.config(logPath, listen: ["unix:\(socketPath)"]))
        defer { daemon.stop() }
        let sent = try Self.ask({ try RawClient(unixPath: socketPath) }, Self.get("/users/abc"))
        #expect(sent.client == "unix")
        let lines = Self.waitForLines(logPath, count: 1)
        #expect(lines.count == 1, "\(lines)")
        Self.expect(lines.first, sent, method: "GET", target: "/users/abc", status: 200, route: "/users/{id}", mode: "sync")
    }

    // MARK: - Pipelining

    /// Reads `count` answers, one after another, from one connection.
    static func readPipelined(_ client: RawClient, count: Int) throws -> [HTTPResponse] {
        try (0..<count).map { _ in try client.readResponse(timeout: 15) }
    }

    /// Guards pipelining: 16 requests in one write, one line per answer, in
    /// request order, each with its own answer's size.
    @Test("16 pipelined requests: 16 lines, in order", .timeLimit(.minutes(1)))
    func pipelined() throws {
        let logs = try LogDir()
        let logPath = logs.path("access.log")
        let daemon = try Daemon(Self.config(logPath))
        defer { daemon.stop() }
        let targets = (0..<16).map { i in i == 7 ? "/missing?n=\(i)" : (i % 2 == 0 ? "/hello?n=\(i)" : "/echo?n=\(i)") }
        let client = try daemon.connect()
        let address = Self.localAddress(client.fd)
        try client.send(targets.map { Self.get($0) }.joined())
        let answers = try Self.readPipelined(client, count: 16)
        let lines = Self.waitForLines(logPath, count: 16)
        #expect(lines.count == 16, "\(lines.map(\.raw).joined(separator: "\n"))")
        #expect(lines.map(\.target) == targets)
        #expect(lines.map(\.status) == answers.map(\.status))
        #expect(lines.map(\.bytes) == answers.map(\.raw.count))
        #expect(lines.allSatisfy { $0.client == address && $0.method == "GET" }, "\(lines)")
        #expect(lines.map(\.route) == targets.map { $0.hasPrefix("/missing") ? "-" : String($0.prefix { $0 != "?" }) })
    }

    /// Guards pipelining across a hand-off: requests behind an async one
    /// wait for it, and the lines still come in request order, the async
    /// one with its own duration.
    @Test("pipelined requests around an async hand-off: lines in order", .timeLimit(.minutes(1)))
    func pipelinedAroundHandoff() throws {
        let logs = try LogDir()
        let logPath = logs.path("access.log")
        let daemon = try Daemon(Self.config(logPath))
        defer { daemon.stop() }
        let targets = (0..<8).map { i in i == 3 ? "/delay?ms=40&n=\(i)" : (i == 5 ? "/sleep?ms=20&n=\(i)" : "/hello?n=\(i)") }
        let client = try daemon.connect()
        try client.send(targets.map { Self.get($0) }.joined())
        let answers = try Self.readPipelined(client, count: 8)
        let lines = Self.waitForLines(logPath, count: 8)
        #expect(lines.map(\.target) == targets, "\(lines.map(\.raw).joined(separator: "\n"))")
        #expect(lines.map(\.bytes) == answers.map(\.raw.count))
        #expect(lines.map(\.mode) == ["sync", "sync", "sync", "async", "sync", "thread", "sync", "sync"])
        if lines.count == 8 {
            #expect((lines[3].durationMs ?? 0) >= 40, "\(lines[3].raw)")
            #expect((lines[5].durationMs ?? 0) >= 20, "\(lines[5].raw)")
        }
    }

    /// Guards the last turn: a hand-off answered while the daemon drains
    /// after SIGTERM is logged, and its line is in the file when the process
    /// has exited (the loop's buffer is flushed, not dropped).
    @Test("an answer finished during shutdown is in the file at exit", .timeLimit(.minutes(1)))
    func shutdown() throws {
        let logs = try LogDir()
        let logPath = logs.path("access.log")
        let daemon = try Daemon(Self.config(logPath))
        let client = try daemon.connect()
        try client.send(Self.get("/delay?ms=400&last"))
        sleep(seconds: 0.1)
        #expect(daemon.stop() == .exited(0))
        let answer = try client.readResponse(timeout: 5)
        #expect(answer.status == 200)
        let (lines, malformed) = Self.parse(Self.read(logPath))
        #expect(malformed.isEmpty, "\(malformed)")
        #expect(lines.map(\.target) == ["/delay?ms=400&last"], "log:\n\(daemon.log)")
        #expect(lines.first?.bytes == answer.raw.count)
        #expect((lines.first?.durationMs ?? 0) >= 400)
    }

    /// Guards where duration_ms starts: once the request has been read, head
    /// and body, so a client slow to send its body does not count as a slow
    /// answer.
    @Test("duration_ms starts once the body has been read", .timeLimit(.minutes(1)))
    func durationAfterBody() throws {
        let logs = try LogDir()
        let logPath = logs.path("access.log")
        let daemon = try Daemon(Self.config(logPath))
        defer { daemon.stop() }
        let client = try daemon.connect()
        setNoDelay(client.fd)
        try client.send("POST /echo?slow-body HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nhello")
        sleep(seconds: 0.4)
        try client.send("world")
        let answer = try client.readResponse()
        #expect(answer.status == 200)
        let lines = Self.waitForLines(logPath, count: 1)
        #expect(lines.map(\.target) == ["/echo?slow-body"])
        #expect((lines.first?.durationMs ?? 1000) < 300, "\(lines)")
        #expect(lines.first?.bytes == answer.raw.count)
    }

    // MARK: - Sampling

    /// Guards `sample: 4` with one loop: 40 requests give exactly 10 lines,
    /// for the 4th, 8th, … 40th, each a whole line (no stand-ins with dashes
    /// for the requests not sampled). Hand-offs count in the same series:
    /// 8 async requests after them give lines for the 4th and 8th.
    @Test("sample: 4 logs exactly every 4th request", .timeLimit(.minutes(1)))
    func sampling() throws {
        let logs = try LogDir()
        let logPath = logs.path("access.log")
        let daemon = try Daemon(Self.config("{ to: \"\(logPath)\", sample: 4 }"))
        defer { daemon.stop() }
        let client = try daemon.connect()
        for n in 1...40 {
            try client.send(Self.get("/hello?n=\(n)"))
            _ = try client.readResponse()
        }
        let first = Self.waitForLines(logPath, count: 10, settle: 0.5)
        #expect(first.count == 10, "40 requests with sample: 4 must give 10 lines; got \(first.count):\n\(first.map(\.raw).joined(separator: "\n"))")
        #expect(first.map(\.target) == stride(from: 4, through: 40, by: 4).map { "/hello?n=\($0)" },
                "\(first.map(\.raw).joined(separator: "\n"))")
        #expect(first.allSatisfy { $0.method == "GET" && $0.route == "/hello" && $0.duration != "-" })

        for n in 1...8 {
            try client.send(Self.get("/delay?ms=1&n=\(n)"))
            _ = try client.readResponse()
        }
        let all = Self.waitForLines(logPath, count: 12, settle: 0.5)
        #expect(Array(all.dropFirst(first.count).map(\.target)) == ["/delay?ms=1&n=4", "/delay?ms=1&n=8"],
                "\(all.map(\.raw).joined(separator: "\n"))")
    }

    /// Guards sampling when a body spans reads: the head is parsed again as
    /// more of the body comes, and each request must still count once.
    /// `sample: 2`, four POSTs whose bodies come in two writes (two with
    /// Content-Length, two chunked): two lines.
    @Test("sample: 2 counts a request whose body spans reads once", .timeLimit(.minutes(1)))
    func samplingBodySpanningReads() throws {
        let logs = try LogDir()
        let logPath = logs.path("access.log")
        let daemon = try Daemon(Self.config("{ to: \"\(logPath)\", sample: 2 }"))
        defer { daemon.stop() }
        let client = try daemon.connect()
        setNoDelay(client.fd)
        for n in 1...4 {
            if n <= 2 {
                try client.send("POST /echo?n=\(n) HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nhello")
            } else {
                try client.send("POST /echo?n=\(n) HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            }
            sleep(seconds: 0.15)
            try client.send(n <= 2 ? "world" : "5\r\nworld\r\n0\r\n\r\n")
            let answer = try client.readResponse()
            #expect(answer.status == 200 && answer.bodyString.contains("helloworld"), "\(visible(answer.raw))")
        }
        let lines = Self.waitForLines(logPath, count: 2, settle: 0.5)
        #expect(lines.map(\.target) == ["/echo?n=2", "/echo?n=4"], "\(lines.map(\.raw).joined(separator: "\n"))")
    }

    // MARK: - Destinations

    /// Guards `to: stderr`: the lines go to the daemon's stderr (the harness
    /// captures it into the daemon's log), whole and correct, and no file is made.
    @Test("to: stderr writes the lines to stderr", .timeLimit(.minutes(1)))
    func toStderr() throws {
        let daemon = try Daemon(Self.config("{ to: stderr }"))
        defer { daemon.stop() }
        let before = Set((try? FileManager.default.contentsOfDirectory(atPath: daemon.dir.path)) ?? [])
        let connect = { try daemon.connect() }
        let ok = try Self.ask(connect, Self.get("/hello?err=1"))
        let missing = try Self.ask(connect, Self.get("/nowhere"))
        _ = waitUntil(timeout: 10) { Self.parse(daemon.log).lines.count >= 2 }
        sleep(seconds: 0.3)
        let (lines, malformed) = Self.parse(daemon.log)
        #expect(malformed.isEmpty, "\(malformed)")
        #expect(lines.count == 2, "log:\n\(daemon.log)")
        Self.expect(lines.first, ok, method: "GET", target: "/hello?err=1", status: 200, route: "/hello", mode: "sync")
        Self.expect(lines.count > 1 ? lines[1] : nil, missing, method: "GET", target: "/nowhere", status: 404)
        let after = Set((try? FileManager.default.contentsOfDirectory(atPath: daemon.dir.path)) ?? [])
        #expect(after == before, "files appeared: \(after.subtracting(before))")
    }

    /// Guards the default and `access_log: off` (and `false`): answers of
    /// every kind, and not a line anywhere, nor a file.
    @Test("no access_log key, off and false: no lines, no file", arguments: [nil, "off", "false"] as [String?])
    func off(_ setting: String?) throws {
        let daemon = try Daemon(Self.config(setting))
        defer { daemon.stop() }
        let cwd = FileManager.default.currentDirectoryPath
        let strayBefore = ["off", "false"].filter { FileManager.default.fileExists(atPath: cwd + "/" + $0) }
        let before = Set((try? FileManager.default.contentsOfDirectory(atPath: daemon.dir.path)) ?? [])
        let connect = { try daemon.connect() }
        #expect(try Self.ask(connect, Self.get("/hello")).status == 200)
        #expect(try Self.ask(connect, Self.get("/missing")).status == 404)
        #expect(try Self.ask(connect, Self.get("/delay?ms=5")).status == 200)
        #expect(try Self.askUntilClosed(daemon, "garbage\r\n\r\n").status == 400)
        sleep(seconds: 0.5)
        #expect(!daemon.log.contains("client="), "log:\n\(daemon.log)")
        #expect(Self.parse(daemon.log).lines.isEmpty)
        let after = Set((try? FileManager.default.contentsOfDirectory(atPath: daemon.dir.path)) ?? [])
        #expect(after == before, "files appeared: \(after.subtracting(before))")
        #expect(!after.contains("off") && !after.contains("false"))
        let strayAfter = ["off", "false"].filter { FileManager.default.fileExists(atPath: cwd + "/" + $0) }
        #expect(strayAfter == strayBefore, "a file named after the setting appeared in \(cwd)")
    }

    /// Guards relative paths: `to:` (and the short form) resolve next to the
    /// config file, not in the daemon's working directory.
    @Test("a relative path lands next to the config file", .timeLimit(.minutes(1)))
    func relativePath() throws {
        let dir = try E2E.makeTempDir()   // the Daemon removes it
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("logs"), withIntermediateDirectories: true)
        let name = "access-" + String(UUID().uuidString.prefix(8)).lowercased() + ".log"
        let yaml = Self.config("{ to: logs/\(name), sample: 1 }").yaml(controlPath: dir.appendingPathComponent("control.sock").path)
        let daemon = try Daemon(yaml: yaml, dir: dir, expectedListeners: 1)
        defer { daemon.stop() }
        let sent = try Self.ask({ try daemon.connect() }, Self.get("/hello?rel"))
        let logPath = dir.appendingPathComponent("logs/\(name)").path
        let lines = Self.waitForLines(logPath, count: 1)
        #expect(lines.count == 1, "nothing at \(logPath); log:\n\(daemon.log)")
        Self.expect(lines.first, sent, method: "GET", target: "/hello?rel", status: 200, route: "/hello", mode: "sync")
        let cwd = FileManager.default.currentDirectoryPath
        #expect(!FileManager.default.fileExists(atPath: cwd + "/logs/" + name), "written relative to the working directory \(cwd)")

        // The short form too, after a reload.
        let short = "short-" + name
        try Lifecycle.writeByRename(Self.config(short).yaml(controlPath: dir.appendingPathComponent("control.sock").path),
                                    to: daemon.configPath)
        let reload = try Lifecycle.reload(control: dir.appendingPathComponent("control.sock").path)
        #expect(reload.status == 0, "\(reload.summary)")
        let again = try Self.ask({ try daemon.connect() }, Self.get("/hello?short"))
        let shortLines = Self.waitForLines(dir.appendingPathComponent(short).path, count: 1)
        Self.expect(shortLines.first, again, method: "GET", target: "/hello?short", status: 200, route: "/hello", mode: "sync")
        #expect(!FileManager.default.fileExists(atPath: cwd + "/" + short), "written relative to the working directory \(cwd)")
        #expect(Self.parse(Self.read(logPath)).lines.count == 1, "the old file must not get the new line")
    }

    /// Guards several loops sharing one file: lines written from four loops
    /// at once never interleave; every request has its one whole line.
    @Test("four loops at once: whole lines, one per request", .timeLimit(.minutes(1)))
    func severalLoops() throws {
        let logs = try LogDir()
        let logPath = logs.path("access.log")
        let daemon = try Daemon(Self.config(logPath, eventLoops: 4))
        defer { daemon.stop() }
        let port = daemon.port
        final class Failures: Sendable { let list = Mutex<[String]>([]) }
        let failures = Failures()
        let jobs = (0..<8).map { t in
            Lifecycle.Job("access-log-\(t)") {
                do {
                    let client = try RawClient(port: port)
                    for n in 0..<25 {
                        try client.send(Self.get("/echo?t=\(t)&n=\(n)&pad=" + String(repeating: "x", count: 200)))
                        _ = try client.readResponse()
                    }
                } catch {
                    failures.list.withLock { $0.append("\(error)") }
                }
            }
        }
        for job in jobs { #expect(job.join(timeout: 40)) }
        let failed = failures.list.withLock { $0 }
        #expect(failed.isEmpty, "\(failed)")
        let lines = Self.waitForLines(logPath, count: 200)
        #expect(lines.count == 200)
        let targets = Set(lines.map { $0.target.split(separator: "&").prefix(2).joined(separator: "&") })
        let wanted = Set((0..<8).flatMap { t in (0..<25).map { "/echo?t=\(t)&n=\($0)" } })
        #expect(targets == wanted)
    }

    // MARK: - Rotation

    /// Guards log rotation: renamed, the file keeps getting lines (the daemon
    /// holds it open) until a reload — SIGHUP, then `switchyard reload` —
    /// opens a fresh one at the path; each renamed file keeps exactly its lines.
    @Test("rename, reload: new lines go to a fresh file at the path", .timeLimit(.minutes(2)))
    func rotation() throws {
        let logs = try LogDir()
        let logPath = logs.path("access.log")
        let daemon = try Daemon(Self.config(logPath))
        defer { daemon.stop() }
        let connect = { try daemon.connect() }
        for n in 1...3 { _ = try Self.ask(connect, Self.get("/hello?a=\(n)")) }
        #expect(Self.waitForLines(logPath, count: 3).count == 3)

        let first = logs.path("access.log.1")
        #expect(rename(logPath, first) == 0)
        _ = try Self.ask(connect, Self.get("/hello?b=1"))
        #expect(Self.waitForLines(first, count: 4).map(\.target) == ["/hello?a=1", "/hello?a=2", "/hello?a=3", "/hello?b=1"],
                "before the reload, lines still go to the renamed file")
        #expect(!FileManager.default.fileExists(atPath: logPath), "nothing reopens the path before a reload")

        #expect(kill(daemon.pid, SIGHUP) == 0)
        #expect(waitUntil(timeout: 20) { daemon.log.contains("reloaded: generation 2") }, "log:\n\(daemon.log)")
        for n in 1...2 { _ = try Self.ask(connect, Self.get("/hello?c=\(n)")) }
        #expect(Self.waitForLines(logPath, count: 2).map(\.target) == ["/hello?c=1", "/hello?c=2"], "log:\n\(daemon.log)")
        #expect(Self.permissions(logPath) == 0o640 & ~Self.umask())
        #expect(Self.parse(Self.read(first)).lines.map(\.target) == ["/hello?a=1", "/hello?a=2", "/hello?a=3", "/hello?b=1"])

        // Again with `switchyard reload`, as ExecReload= and logrotate's postrotate run it.
        let second = logs.path("access.log.2")
        #expect(rename(logPath, second) == 0)
        let reload = try Lifecycle.reload(control: daemon.dir.appendingPathComponent("control.sock").path)
        #expect(reload.status == 0, "\(reload.summary)")
        _ = try Self.ask(connect, Self.get("/hello?d=1"))
        #expect(Self.waitForLines(logPath, count: 1).map(\.target) == ["/hello?d=1"])
        #expect(Self.parse(Self.read(second)).lines.map(\.target) == ["/hello?c=1", "/hello?c=2"])
        #expect(Self.parse(Self.read(first)).lines.count == 4)
    }

    /// Guards a reload that keeps the path: the file is reopened for
    /// appending, never truncated.
    @Test("a reload without rotation appends to the same file", .timeLimit(.minutes(1)))
    func reloadAppends() throws {
        let logs = try LogDir()
        let logPath = logs.path("access.log")
        try "time=2026-01-01T00:00:00.000Z client=unix method=- target=\"-\" status=400 bytes=1 duration_ms=- route=- mode=-\n"
            .write(toFile: logPath, atomically: true, encoding: .utf8)
        let daemon = try Daemon(Self.config(logPath))
        defer { daemon.stop() }
        _ = try Self.ask({ try daemon.connect() }, Self.get("/hello?one"))
        #expect(Self.waitForLines(logPath, count: 2).count == 2)
        #expect(kill(daemon.pid, SIGHUP) == 0)
        #expect(waitUntil(timeout: 20) { daemon.log.contains("reloaded: generation 2") }, "log:\n\(daemon.log)")
        _ = try Self.ask({ try daemon.connect() }, Self.get("/hello?two"))
        let lines = Self.waitForLines(logPath, count: 3)
        #expect(lines.map(\.target) == ["-", "/hello?one", "/hello?two"], "\(lines)")
    }

    // MARK: - A file that cannot be opened

    /// Guards start-up: a log in a directory that does not exist (and a path
    /// that is a directory) stops `serve` with the reason at the key, exit
    /// non-zero; `check` warns about it there (a warning: the daemon may run
    /// as another user, for whom systemd makes the directory).
    @Test("serve refuses a log file it cannot open; check warns", arguments: ["missing-dir/access.log", "a-directory"])
    func serveCannotOpen(_ name: String) throws {
        let dir = try E2E.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("a-directory"), withIntermediateDirectories: true)
        let logPath = dir.appendingPathComponent(name).path
        let configPath = dir.appendingPathComponent("switchyard.yaml").path
        let yaml = Self.config(logPath).yaml(controlPath: dir.appendingPathComponent("control.sock").path)
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        let at = "\(configPath):\((yaml.split(separator: "\n").firstIndex { $0.hasPrefix("access_log:") } ?? -2) + 1):13"
        let result = try runProcess(E2E.binaryPath, ["serve", "--config", configPath], timeout: 20,
                                    environment: E2E.childEnvironment(["RUNTIME_DIRECTORY": dir.path]))
        #expect(!result.timedOut, "serve kept running with an access_log it cannot open; output:\n\(result.output)")
        #expect(result.status != 0, "\(result.output)")
        let reason = name == "a-directory" ? "Is a directory" : "No such file or directory"
        #expect(result.stderrString.contains("\(at): cannot open access_log \(logPath): \(reason)"), "stderr:\n\(result.stderrString)")
        #expect(!result.output.contains("listening on"), "\(result.output)")

        let check = try runProcess(E2E.binaryPath, ["check", "--config", configPath], timeout: 20)
        #expect(check.status == 0, "\(check.output)")
        #expect(check.stderrString.contains("\(at): warning: access_log \(logPath) cannot be opened for appending by this user: \(reason)"),
                "\(check.output)")
        #expect(check.output.contains(" routes, 1 warning)"), "\(check.output)")
    }

    /// Guards a reload to a log that cannot be opened: `switchyard reload`
    /// fails with the reason, the old generation keeps serving (its answers,
    /// its log file); a later good reload can move the log to a new file.
    @Test("a reload to a log it cannot open fails; the old config serves and logs", .timeLimit(.minutes(2)))
    func reloadCannotOpen() throws {
        let logs = try LogDir()
        let logPath = logs.path("access.log")
        let daemon = try Daemon(Self.config(logPath))
        defer { daemon.stop() }
        let control = daemon.dir.appendingPathComponent("control.sock").path
        let connect = { try daemon.connect() }
        _ = try Self.ask(connect, Self.get("/hello?before"))
        #expect(Self.waitForLines(logPath, count: 1).count == 1)

        // The bad config also changes /hello's body: the old one must keep serving.
        var routes = Self.routes
        routes[0] = #"{ path: /hello, handler: builtin.text, mode: sync, options: { body: "changed\n" } }"#
        let badPath = logs.path("no-such-dir/access.log")
        let badYAML = Self.config(badPath, routes: routes).yaml(controlPath: control)
        try Lifecycle.writeByRename(badYAML, to: daemon.configPath)
        let failed = try Lifecycle.reload(control: control)
        #expect(failed.status == 1, "\(failed.summary)")
        // The reason points at the key, as every config error does.
        let keyLine = (badYAML.split(separator: "\n").firstIndex { $0.hasPrefix("access_log:") } ?? -2) + 1
        let reason = "\(daemon.configPath):\(keyLine):13: cannot open access_log \(badPath): No such file or directory"
        #expect(failed.result.stderrString.contains(reason), "\(failed.summary)")
        #expect(daemon.log.contains("reload failed; generation 1 keeps serving: \(reason)"), "log:\n\(daemon.log)")

        let after = try Self.ask(connect, Self.get("/hello?after"))
        #expect(after.body == "hello\n", "the old config must keep serving")
        let lines = Self.waitForLines(logPath, count: 2)
        #expect(lines.map(\.target) == ["/hello?before", "/hello?after"], "log:\n\(daemon.log)")
        Self.expect(lines.count > 1 ? lines[1] : nil, after, method: "GET", target: "/hello?after", status: 200, route: "/hello", mode: "sync")
        #expect(!FileManager.default.fileExists(atPath: logs.path("no-such-dir")))

        // SIGHUP to the same bad config: the same, and nothing is lost.
        #expect(kill(daemon.pid, SIGHUP) == 0)
        #expect(waitUntil(timeout: 20) { daemon.log.components(separatedBy: "reload failed; generation 1 keeps serving").count == 3 },
                "log:\n\(daemon.log)")
        _ = try Self.ask(connect, Self.get("/hello?after-hup"))
        #expect(Self.waitForLines(logPath, count: 3).map(\.target) == ["/hello?before", "/hello?after", "/hello?after-hup"])

        // A good reload to another file: the new config serves and logs there only.
        let newPath = logs.path("new.log")
        try Lifecycle.writeByRename(Self.config(newPath, routes: routes).yaml(controlPath: control), to: daemon.configPath)
        let good = try Lifecycle.reload(control: control)
        #expect(good.status == 0, "\(good.summary)")
        let changed = try Self.ask(connect, Self.get("/hello?new"))
        #expect(changed.body == "changed\n")
        #expect(Self.waitForLines(newPath, count: 1).map(\.target) == ["/hello?new"])
        #expect(Self.parse(Self.read(logPath)).lines.count == 3, "the old file must not get the new config's lines")

        // And a reload to off: no more lines anywhere.
        try Lifecycle.writeByRename(Self.config("off", routes: routes).yaml(controlPath: control), to: daemon.configPath)
        #expect(try Lifecycle.reload(control: control).status == 0)
        _ = try Self.ask(connect, Self.get("/hello?off"))
        sleep(seconds: 0.5)
        #expect(Self.parse(Self.read(newPath)).lines.count == 1)
        #expect(Self.parse(Self.read(logPath)).lines.count == 3)
        #expect(Self.parse(daemon.log).lines.isEmpty)
    }
}
