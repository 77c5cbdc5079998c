import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The YAML for one daemon under test. Every daemon gets its own control
/// socket in its own temp dir so parallel tests never collide.
struct DaemonConfig {
    var listen: [String] = ["127.0.0.1:0"]
    var eventLoops: Int? = nil
    /// `limits:` keys, e.g. `["header_timeout_ms": 500]`.
    var limits: [String: Int] = [:]
    /// The `compression:` value, as YAML text.
    var compression: String? = nil
    /// Route lines, each a YAML flow mapping.
    var routes: [String] = DaemonConfig.standardRoutes
    /// More top-level YAML, added verbatim.
    var extra: String = ""

    static let standardRoutes = [
        #"{ path: /hello, handler: builtin.text, mode: sync, options: { body: "hello\n" } }"#,
        #"{ path: /echo, methods: [GET, HEAD, POST, PUT], handler: builtin.echo, mode: sync }"#,
        #"{ path: /livez, handler: builtin.health, mode: sync }"#,
        #"{ path: /readyz, handler: builtin.ready, mode: sync }"#,
    ]

    func yaml(controlPath: String) -> String {
        var text = "listen: [" + listen.map { "\"\($0)\"" }.joined(separator: ", ") + "]\n"
        if let eventLoops { text += "event_loops: \(eventLoops)\n" }
        text += "control: \"\(controlPath)\"\n"
        if !limits.isEmpty {
            text += "limits:\n"
            for (key, value) in limits.sorted(by: { $0.key < $1.key }) { text += "  \(key): \(value)\n" }
        }
        if let compression { text += "compression: \(compression)\n" }
        if !extra.isEmpty { text += extra.hasSuffix("\n") ? extra : extra + "\n" }
        text += "routes:\n"
        for route in routes { text += "  - \(route)\n" }
        return text
    }
}

/// One running `switchyard serve`, started from a config in a temp dir, with
/// stderr and stdout captured to a log file. Waits for one `listening on`
/// line per listener and parses the bound addresses from them.
final class Daemon {
    let dir: URL
    let configPath: String
    let logPath: String
    let process: ChildProcess
    /// The addresses from the `listening on …` lines, in log order.
    private(set) var listeners: [String] = []
    private var stopped = false

    var pid: Int32 { process.pid }

    /// The port of the first TCP listener.
    var port: Int { tcpPorts.first ?? -1 }

    /// Ports of every TCP listener (IPv4 and IPv6), in log order.
    var tcpPorts: [Int] {
        listeners.compactMap { addr in
            guard !addr.hasPrefix("unix:"), let colon = addr.lastIndex(of: ":") else { return nil }
            return Int(addr[addr.index(after: colon)...])
        }
    }

    /// The port of the IPv6 (`[…]:port`) listener.
    var ipv6Port: Int? {
        listeners.first { $0.hasPrefix("[") }.flatMap { addr in
            addr.lastIndex(of: ":").flatMap { Int(addr[addr.index(after: $0)...]) }
        }
    }

    /// Starts a daemon and waits (bounded) until every listener is logged.
    convenience init(_ config: DaemonConfig = DaemonConfig(), startTimeout: Double = 20) throws {
        let dir = try E2E.makeTempDir()
        let yaml = config.yaml(controlPath: dir.appendingPathComponent("control.sock").path)
        try self.init(yaml: yaml, dir: dir, expectedListeners: config.listen.count, startTimeout: startTimeout)
    }

    /// `launcher` runs the binary under another program (valgrind, say): its
    /// path and arguments come first, then the binary and `serve --config …`.
    /// `environment` adds variables (NOTIFY_SOCKET, say) to the daemon's own.
    init(yaml: String, dir: URL, expectedListeners: Int, startTimeout: Double = 20,
         binary: String = E2E.binaryPath, launcher: [String] = [], environment: [String: String] = [:]) throws {
        _ = E2E.processSetup
        self.dir = dir
        configPath = dir.appendingPathComponent("switchyard.yaml").path
        logPath = dir.appendingPathComponent("daemon.log").path
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw E2EError("no switchyard binary at \(binary); build it or set SWITCHYARD_BIN")
        }
        let command = launcher + [binary, "serve", "--config", configPath]
        process = try ChildProcess(command[0], Array(command.dropFirst()),
                                   environment: E2E.childEnvironment(["RUNTIME_DIRECTORY": dir.path].merging(environment) { $1 }),
                                   stdoutPath: logPath, stderrPath: logPath)

        let deadline = now() + startTimeout
        while true {
            listeners = Daemon.listeningAddresses(in: self.log)
            if listeners.count >= expectedListeners { break }
            if let exit = process.poll() {
                throw E2EError("switchyard ended (\(exit)) before listening; config:\n\(yaml)\nlog:\n\(self.log)")
            }
            if now() > deadline {
                process.kill(SIGKILL)
                throw E2EError("switchyard did not log \(expectedListeners) 'listening on' line(s) within \(startTimeout) s; config:\n\(yaml)\nlog:\n\(self.log)")
            }
            sleep(seconds: 0.02)
        }
    }

    deinit {
        process.kill(SIGKILL)
        _ = process.wait(timeout: 5)
        try? FileManager.default.removeItem(at: dir)
    }

    /// Everything the daemon has written to stderr and stdout so far.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The tokens after each `listening on `.
    static func listeningAddresses(in log: String) -> [String] {
        var found: [String] = []
        // Only finished lines: the daemon may be writing the last one as we read.
        let finished = log.hasSuffix("\n") ? Substring(log) : log[..<(log.lastIndex(of: "\n") ?? log.startIndex)]
        for line in finished.split(separator: "\n") {
            guard let range = line.range(of: "listening on ") else { continue }
            var token = line[range.upperBound...].prefix { !$0.isWhitespace && $0 != "," && $0 != ")" }
            if token.hasPrefix("\"") { token = token.dropFirst() }
            if token.hasSuffix("\"") { token = token.dropLast() }
            if token.hasPrefix("http://") { token = token.dropFirst("http://".count) }
            found.append(String(token))
        }
        return found
    }

    typealias Exit = ChildProcess.Exit

    /// Sends SIGTERM (once) and waits (bounded) for the exit; SIGKILL if it
    /// hangs. Safe to call twice.
    @discardableResult
    func stop(timeout: Double = 20) -> Exit {
        if !stopped {
            stopped = true
            process.kill(SIGTERM)
        }
        return process.waitOrKill(timeout: timeout)
    }

    /// A fresh raw connection to the first TCP listener.
    func connect() throws -> RawClient { try RawClient(port: port) }

    /// One request on a fresh connection; returns the response.
    func request(_ text: String, head: Bool = false, timeout: Double = 10) throws -> HTTPResponse {
        let client = try connect()
        try client.send(text)
        return try client.readResponse(head: head, timeout: timeout)
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }
}
