import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// Helpers for the service-lifecycle tests (issue 13, items 8 and 9): a real
// sd_notify socket recorded from a background thread, a daemon started with
// extra descriptors (socket activation) and its own environment, a `switchyard
// reload` timed from call to return, a prober that connects again and again
// to prove a port never refuses, and small socket and file utilities.
// Everything lives in `Lifecycle` so it cannot collide with other helpers.
enum Lifecycle {}

// MARK: - sd_notify

extension Lifecycle {
    /// A bound AF_UNIX datagram socket, as systemd's NOTIFY_SOCKET is, read by
    /// a background thread that stamps each datagram with CLOCK_MONOTONIC on
    /// arrival (so watchdog gaps are measured when the pings came, not when
    /// the test looked).
    final class NotifyRecorder: @unchecked Sendable {
        struct Message: CustomStringConvertible {
            /// Monotonic seconds (the `now()` clock) when it arrived.
            let at: Double
            let text: String
            var lines: [Substring] { text.split(separator: "\n") }
            /// The value of `KEY=` in this datagram, if any.
            func value(_ key: String) -> String? {
                for line in lines where line.hasPrefix(key + "=") { return String(line.dropFirst(key.count + 1)) }
                return nil
            }
            func has(_ assignment: String) -> Bool { lines.contains { $0 == assignment } }
            var isWatchdog: Bool { has("WATCHDOG=1") }
            /// READY, RELOADING, STOPPING, ERRNO, WATCHDOG or STATUS: what the message is about.
            var kind: String {
                if has("RELOADING=1") { return "RELOADING" }
                if has("READY=1") { return "READY" }
                if has("STOPPING=1") { return "STOPPING" }
                if value("ERRNO") != nil { return "ERRNO" }
                if isWatchdog { return "WATCHDOG" }
                return "STATUS"
            }
            var description: String { String(format: "%.3f ", at) + visible(Array(text.utf8), limit: 400) }
        }

        let path: String
        private let fd: Int32
        private let received = Mutex<[Message]>([])
        private let stopping = Atomic<Bool>(false)
        private let finished = DispatchSemaphore(value: 0)

        init(path: String) throws {
            self.path = path
            unlink(path)
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw E2EError("socket: \(String(cString: strerror(errno)))") }
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { close(fd); throw E2EError("notify path too long: \(path)") }
            withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes) }
            let bound = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0 else {
                let e = errno
                close(fd)
                throw E2EError("bind \(path): \(String(cString: strerror(e)))")
            }
            let thread = Thread { [self] in readLoop() }
            thread.name = "notify-recorder"
            thread.start()
        }

        deinit {
            stopping.store(true, ordering: .relaxed)
            _ = finished.wait(timeout: .now() + 2)
            close(fd)
            unlink(path)
        }

        private func readLoop() {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while !stopping.load(ordering: .relaxed) {
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&pfd, 1, 50) == 1 else { continue }
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                guard n > 0 else { continue }
                let message = Message(at: now(), text: String(decoding: buffer[0..<n], as: UTF8.self))
                received.withLock { $0.append(message) }
            }
            finished.signal()
        }

        /// Everything received so far, in order.
        var messages: [Message] { received.withLock { $0 } }

        /// Everything but the `WATCHDOG=1` pings.
        var lifecycle: [Message] { messages.filter { !$0.isWatchdog } }

        var watchdogPings: [Message] { messages.filter(\.isWatchdog) }

        /// The first message at or after `index` that satisfies `predicate`,
        /// waiting up to `timeout`; moves `index` past it.
        func next(after index: inout Int, timeout: Double, where predicate: (Message) -> Bool = { _ in true }) -> Message? {
            let deadline = now() + timeout
            while true {
                let all = messages
                while index < all.count {
                    let message = all[index]
                    index += 1
                    if predicate(message) { return message }
                }
                if now() >= deadline { return nil }
                sleep(seconds: 0.01)
            }
        }

        /// The next non-watchdog message at or after `index`.
        func nextLifecycle(after index: inout Int, timeout: Double) -> Message? {
            next(after: &index, timeout: timeout) { !$0.isWatchdog }
        }

        /// Waits (bounded) for a message satisfying `predicate`, from the start.
        func wait(timeout: Double, for predicate: (Message) -> Bool) -> Message? {
            var index = 0
            return next(after: &index, timeout: timeout, where: predicate)
        }
    }
}

// MARK: - A daemon with its own environment and descriptors

extension Lifecycle {
    /// A child started with posix_spawn(3) like `ChildProcess` (empty signal
    /// mask, default dispositions, stdin /dev/null, stdout and stderr into one
    /// log file), plus descriptors of ours placed at given numbers in the
    /// child (`dup2` clears close-on-exec on the copy only).
    final class SpawnedProcess {
        let pid: pid_t
        private var exit: ChildProcess.Exit?

        init(_ argv: [String], environment: [String: String], logPath: String, passing fds: [(ours: Int32, theirs: Int32)] = []) throws {
            _ = E2E.processSetup
            pid = try ChildProcess.spawn(argv, environment: environment) { actions in
                posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
                posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
                posix_spawn_file_actions_adddup2(&actions, 1, 2)
                for pass in fds { posix_spawn_file_actions_adddup2(&actions, pass.ours, pass.theirs) }
            }
        }

        deinit {
            if poll() == nil {
                Glibc.kill(pid, SIGKILL)
                _ = wait(timeout: 5)
            }
        }

        func poll() -> ChildProcess.Exit? {
            if let exit { return exit }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
            let low = status & 0x7f
            exit = low == 0 ? .exited((status >> 8) & 0xff) : .signaled(low)
            return exit
        }

        var isRunning: Bool { poll() == nil }

        func kill(_ signal: Int32) { if isRunning { _ = Glibc.kill(pid, signal) } }

        func wait(timeout: Double) -> ChildProcess.Exit? {
            let deadline = now() + timeout
            while true {
                if let exit = poll() { return exit }
                if now() >= deadline { return nil }
                sleep(seconds: 0.01)
            }
        }

        func waitOrKill(timeout: Double) -> ChildProcess.Exit {
            if let exit = wait(timeout: timeout) { return exit }
            Glibc.kill(pid, SIGKILL)
            _ = wait(timeout: 5)
            return .hung
        }
    }

    /// `switchyard serve --config FILE` with the environment a test chooses
    /// (NOTIFY_SOCKET, WATCHDOG_USEC, JOURNAL_STREAM, LISTEN_*), optionally
    /// started through `sh` so `LISTEN_PID` can be the daemon's own pid, and
    /// optionally with sockets of ours passed as fd 3, 4, …
    final class Service {
        let dir: URL
        let configPath: String
        let logPath: String
        let controlPath: String
        let process: SpawnedProcess
        private(set) var listeners: [String] = []
        private var stopped = false

        var pid: Int32 { process.pid }
        var port: Int { Self.port(of: listeners.first ?? "") ?? -1 }

        static func port(of address: String) -> Int? {
            guard let colon = address.lastIndex(of: ":") else { return nil }
            return Int(address[address.index(after: colon)...])
        }

        /// - Parameters:
        ///   - dir: the test's directory (the log goes there).
        ///   - configPath: the config file, already written.
        ///   - passing: our descriptors to place at fd 3, 4, … in that order;
        ///     `LISTEN_PID` is then set to the daemon's pid by a shell that execs it.
        ///   - expectedListeners: `listening on` lines to wait for (0: do not wait).
        init(dir: URL, configPath: String, environment: [String: String] = [:], passing: [Int32] = [],
             setListenPID: Bool = false, expectedListeners: Int = 1, startTimeout: Double = 20,
             binary: String = E2E.binaryPath) throws {
            self.dir = dir
            self.configPath = configPath
            logPath = dir.appendingPathComponent("daemon.log").path
            controlPath = dir.appendingPathComponent("control.sock").path
            guard FileManager.default.isExecutableFile(atPath: binary) else {
                throw E2EError("no switchyard binary at \(binary); build it or set SWITCHYARD_BIN")
            }
            var argv = [binary, "serve", "--config", configPath]
            if setListenPID || !passing.isEmpty {
                argv = ["/bin/sh", "-c", #"export LISTEN_PID=$$; exec "$0" "$@""#] + argv
            }
            let fds = passing.enumerated().map { (ours: $0.element, theirs: Int32(3 + $0.offset)) }
            let env = E2E.childEnvironment(["RUNTIME_DIRECTORY": dir.path].merging(environment) { $1 })
            process = try SpawnedProcess(argv, environment: env, logPath: logPath, passing: fds)
            guard expectedListeners > 0 else { return }
            let deadline = now() + startTimeout
            while true {
                listeners = Daemon.listeningAddresses(in: log)
                if listeners.count >= expectedListeners { break }
                if let exit = process.poll() {
                    throw E2EError("switchyard ended (\(exit)) before listening; config:\n\(Self.read(configPath))\nlog:\n\(log)")
                }
                if now() > deadline {
                    process.kill(SIGKILL)
                    throw E2EError("switchyard did not log \(expectedListeners) 'listening on' line(s) within \(startTimeout) s; log:\n\(log)")
                }
                sleep(seconds: 0.02)
            }
        }

        deinit {
            process.kill(SIGKILL)
            _ = process.wait(timeout: 5)
        }

        var log: String { Self.read(logPath) }

        static func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

        /// Log lines containing `text`.
        func logLines(containing text: String) -> [Substring] {
            log.split(separator: "\n").filter { $0.contains(text) }
        }

        /// Waits (bounded) until a log line contains `text`.
        @discardableResult
        func waitForLog(_ text: String, timeout: Double) -> Bool {
            waitUntil(timeout: timeout) { log.contains(text) }
        }

        @discardableResult
        func stop(timeout: Double = 20) -> ChildProcess.Exit {
            if !stopped {
                stopped = true
                process.kill(SIGTERM)
            }
            return process.waitOrKill(timeout: timeout)
        }

        /// `switchyard reload --control` for this daemon.
        func reload(timeout: Double = 60) throws -> ReloadRun {
            try Lifecycle.reload(control: controlPath, timeout: timeout)
        }
    }

    /// One `switchyard reload`: what it printed and when it was called and returned.
    struct ReloadRun {
        var result: ProcessResult
        var started: Double
        var ended: Double
        var status: Int32 { result.status }
        var summary: String {
            "exit \(result.status) after \(ms(ended - started)); stdout: \(result.stdoutString.debugDescription); stderr: \(result.stderrString.debugDescription)"
        }
    }

    static func reload(control: String, timeout: Double = 60) throws -> ReloadRun {
        let started = now()
        let result = try runProcess(E2E.binaryPath, ["reload", "--control", control], timeout: timeout)
        return ReloadRun(result: result, started: started, ended: now())
    }
}

// MARK: - Sockets, requests, files

extension Lifecycle {
    /// A port that was free a moment ago: bound to 127.0.0.1:0 and closed.
    static func freePort() throws -> Int {
        let (fd, port) = try listeningSocket(listen: false)
        close(fd)
        return port
    }

    /// A TCP socket bound to 127.0.0.1:0 (listening unless told not to),
    /// close-on-exec; returns it and its port.
    static func listeningSocket(listen listening: Bool = true) throws -> (fd: Int32, port: Int) {
        _ = E2E.processSetup
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw E2EError("socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Bool in
                bind(fd, p, length) == 0 && (!listening || Glibc.listen(fd, 128) == 0) && getsockname(fd, p, &length) == 0
            }
        }
        guard ok else {
            let e = errno
            close(fd)
            throw E2EError("bind/listen on 127.0.0.1:0: \(String(cString: strerror(e)))")
        }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }

    /// Whether a connection to 127.0.0.1:`port` is refused right now.
    static func refuses(port: Int) -> Bool {
        do {
            _ = try RawClient(port: port)
            return false
        } catch {
            return "\(error)".contains("refused")
        }
    }

    static func get(_ target: String) -> String {
        "GET \(target) HTTP/1.1\r\nHost: localhost\r\n\r\n"
    }

    /// One GET on a fresh connection to `port`.
    static func get(port: Int, _ target: String, timeout: Double = 10) throws -> HTTPResponse {
        let client = try RawClient(port: port)
        try client.send(get(target))
        return try client.readResponse(timeout: timeout)
    }

    /// Writes `text` to a temporary file beside `path` and renames it over
    /// `path`, as editors and config tools do: a reader never sees half a file.
    static func writeByRename(_ text: String, to path: String) throws {
        let temp = (path as NSString).deletingLastPathComponent + "/.tmp-" + String(UUID().uuidString.prefix(8))
        try Data(text.utf8).write(to: URL(fileURLWithPath: temp))
        guard rename(temp, path) == 0 else {
            let e = errno
            unlink(temp)
            throw E2EError("rename \(temp) -> \(path): \(String(cString: strerror(e)))")
        }
    }

    /// `generation N` from `/readyz?verbose`, or nil.
    static func generation(port: Int) -> Int? {
        guard let response = try? get(port: port, "/readyz?verbose"), response.status == 200 else { return nil }
        return generation(inReadyz: response.bodyString)
    }

    static func generation(inReadyz text: String) -> Int? {
        guard let range = text.range(of: "config: generation ") else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }

    /// The contract's CPU job (`builtin.cpu`) for `rounds`, as 16 hex digits.
    static func cpuJob(rounds: Int) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var buf = (0..<64).map { UInt8($0) }
        for r in 0..<rounds {
            for i in 0..<64 { h = (h ^ UInt64(buf[i])) &* 0x100_0000_01b3 }
            buf[r % 64] = UInt8(truncatingIfNeeded: h)
        }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

// MARK: - Background work

extension Lifecycle {
    /// A closure on its own thread, joined with a bound.
    final class Job: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)

        init(_ name: String, _ body: @escaping @Sendable () -> Void) {
            let thread = Thread { [done] in
                body()
                done.signal()
            }
            thread.name = name
            thread.start()
        }

        /// True if it finished within `timeout`.
        @discardableResult
        func join(timeout: Double) -> Bool { done.wait(timeout: .now() + timeout) == .success }
    }

    /// Connects to 127.0.0.1:`port` again and again (a fresh connection each
    /// time) and sends one GET, from a background thread, until stopped:
    /// proves a listener never refuses a connection, never resets one and
    /// always answers while something (a reload) happens.
    final class Prober: @unchecked Sendable {
        struct Failure: CustomStringConvertible {
            var at: Double
            var what: String
            var description: String { String(format: "%.3f ", at) + what }
        }

        let port: Int
        let target: String
        private let stopFlag = Atomic<Bool>(false)
        private let state = Mutex<(count: Int, failures: [Failure], bodies: [String: Int])>((0, [], [:]))
        private var job: Job?

        init(port: Int, target: String = "/readyz", interval: Double = 0.005) {
            self.port = port
            self.target = target
            job = Job("prober-\(port)") { [self] in run(interval: interval) }
        }

        private func run(interval: Double) {
            while !stopFlag.load(ordering: .relaxed) {
                let at = now()
                do {
                    let client = try RawClient(port: port)
                    try client.send("GET \(target) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                    let response = try client.readResponse(timeout: 10)
                    let body = response.bodyString
                    state.withLock { s in
                        s.count += 1
                        s.bodies[body, default: 0] += 1
                        if response.status != 200 { s.failures.append(Failure(at: at, what: "status \(response.status): \(body)")) }
                    }
                } catch {
                    state.withLock { $0.count += 1; $0.failures.append(Failure(at: at, what: "\(error)")) }
                }
                sleep(seconds: interval)
            }
        }

        /// Stops and returns the number of probes, the failures and the bodies seen.
        func stop() -> (count: Int, failures: [Failure], bodies: [String: Int]) {
            stopFlag.store(true, ordering: .relaxed)
            job?.join(timeout: 20)
            return state.withLock { $0 }
        }

        var count: Int { state.withLock { $0.count } }
    }
}
