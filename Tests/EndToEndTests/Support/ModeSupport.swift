import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Helpers for the execution-mode tests (issue 12): what /proc says about the
// daemon's threads, descriptors and worker processes; many requests in flight
// at once on one poll(2) loop, each with its own start time, so handlers and
// `/livez` probes are timed against each other; and a CPU-job calibration.

/// What /proc says about processes: the daemon's threads and descriptors,
/// and its worker children.
enum ModeProc {
    struct Stat: Equatable {
        var pid: Int32
        var comm: String
        /// R, S, D, Z, X, …
        var state: Character
        var ppid: Int32
        /// utime + stime, in seconds.
        var cpuSeconds: Double
        var nice: Int
        /// Clock ticks after boot: with the pid, it names one process even if the pid is reused.
        var startTime: UInt64
        var isZombie: Bool { state == "Z" || state == "X" }
    }

    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// /proc/PID/stat, parsed (the comm may hold spaces and parentheses: the
    /// fields after it start after the last `)`).
    static func stat(_ pid: Int32) -> Stat? {
        guard let text = ProcStats.read("/proc/\(pid)/stat"),
              let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
        let comm = String(text[text.index(after: open)..<close])
        // Fields from 3 (state) on.
        let rest = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        guard rest.count > 19, let state = rest[0].first, let ppid = Int32(rest[1]),
              let utime = Double(rest[11]), let stime = Double(rest[12]),
              let nice = Int(rest[16]), let start = UInt64(rest[19]) else { return nil }
        return Stat(pid: pid, comm: comm, state: state, ppid: ppid,
                    cpuSeconds: (utime + stime) / ticksPerSecond, nice: nice, startTime: start)
    }

    /// True while that very process (pid and start time) exists and is not a zombie.
    static func isAlive(_ process: Stat) -> Bool {
        guard let now = stat(process.pid) else { return false }
        return now.startTime == process.startTime && !now.isZombie
    }

    /// Live (non-zombie) children of `parent`, found by scanning /proc.
    static func children(of parent: Int32) -> [Stat] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { Int32($0) }.compactMap { stat($0) }
            .filter { $0.ppid == parent && !$0.isZombie }
            .sorted { $0.pid < $1.pid }
    }

    /// The daemon's worker processes: live children whose main thread has
    /// named itself `sy-worker-N` (so they have got past exec and started).
    static func workers(of daemon: Int32) -> [Stat] {
        children(of: daemon).filter { $0.comm.hasPrefix("sy-worker-") }
    }

    /// Waits (bounded) until `count` workers run; returns them.
    static func waitForWorkers(of daemon: Int32, count: Int, timeout: Double = 10) -> [Stat] {
        var found: [Stat] = []
        _ = waitUntil(timeout: timeout) {
            found = workers(of: daemon)
            return found.count >= count
        }
        return found
    }

    /// The names (`comm`) of every thread of `pid`.
    static func threadNames(_ pid: Int32) -> [String] {
        let dir = "/proc/\(pid)/task"
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return tasks.compactMap { ProcStats.read("\(dir)/\($0)/comm") }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    static func threadCount(_ pid: Int32) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []).count
    }

    static func fdCount(_ pid: Int32) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count
    }

    /// CPU seconds the whole machine has spent busy (all cores), from /proc/stat.
    static func machineBusySeconds() -> Double {
        guard let text = ProcStats.read("/proc/stat"), let line = text.split(separator: "\n").first,
              line.hasPrefix("cpu ") else { return 0 }
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard fields.count >= 8 else { return 0 }
        // user nice system idle iowait irq softirq steal
        return (fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]) / ticksPerSecond
    }

    /// CPU seconds used so far by the processes in `pids` (all their threads).
    static func cpuSeconds(_ pids: [Int32]) -> Double {
        pids.compactMap { stat($0)?.cpuSeconds }.reduce(0, +)
    }

    /// Measures `body` and how much CPU processes other than `ours` used
    /// meanwhile (this test process's other suites included), in cores: 0 on an idle machine,
    /// 1 when something else kept a whole core busy.
    static func foreignLoad<T>(excluding ours: [Int32], _ body: () throws -> T) rethrows -> (result: T, cores: Double) {
        // The test process is not excluded: other suites run in it at the
        // same time and take cores like any other process would.
        let pids = ours
        let busy0 = machineBusySeconds(), ours0 = cpuSeconds(pids), t0 = now()
        let result = try body()
        let wall = max(now() - t0, 0.001)
        let foreign = (machineBusySeconds() - busy0) - (cpuSeconds(pids) - ours0)
        return (result, max(0, foreign) / wall)
    }

    /// Waits (up to `limit` seconds) for a second in which processes other
    /// than `ours` used under a third of a core: other suites of this run
    /// finish, and timing can then be judged. True when one came.
    @discardableResult
    static func waitForQuiet(excluding ours: [Int32], limit: Double) -> Bool {
        let deadline = now() + limit
        while now() < deadline {
            let (_, load) = foreignLoad(excluding: ours) { sleep(seconds: 1) }
            if load < 0.33 { return true }
        }
        return false
    }

    /// argv of `pid`.
    static func commandLine(_ pid: Int32) -> [String] {
        (ProcStats.read("/proc/\(pid)/cmdline") ?? "").split(separator: "\0").map(String.init)
    }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
@discardableResult
func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = now() + timeout
    while true {
        if condition() { return true }
        if now() >= deadline { return false }
        sleep(seconds: 0.01)
    }
}

/// `seconds` formatted for a failure message.
func ms(_ seconds: Double?) -> String {
    guard let seconds else { return "none" }
    return String(format: "%.1f ms", seconds * 1000)
}

/// Requests on fresh connections, each started at its own offset from the
/// wave's start, all driven by one poll(2) loop on the calling thread; each
/// answer is timed. A request may be several pipelined ones (`expecting`).
final class ModeWave {
    enum Phase { case waiting, connecting, sending, reading, done }

    struct Item {
        let request: [UInt8]
        /// Absolute (monotonic) time to connect.
        let startAt: Double
        let expecting: Int
        var fd: Int32 = -1
        var phase = Phase.waiting
        var sent = 0
        /// When the last byte of the request left.
        var sentAt: Double?
        var buffer: [UInt8] = []
        var responses: [HTTPResponse] = []
        var answeredAt: [Double] = []
        /// The server closed (EOF or reset).
        var closedAt: Double?
        var error: String?

        /// Connect to the last expected answer.
        var latency: Double? { responses.count >= expecting ? answeredAt.last.map { $0 - startAt } : nil }
        var response: HTTPResponse? { responses.first }
        var status: Int? { responses.first?.status }
        var waiting: Bool { sentAt != nil && responses.count < expecting && phase != .done }
        var summary: String {
            "status \(responses.map { String($0.status) }.joined(separator: ",")), latency \(ms(latency))"
                + (error.map { ", \($0)" } ?? "")
        }
    }

    let port: Int
    let origin: Double
    /// At most this many connects in progress at once (the listen backlog is finite).
    let maxConnecting: Int
    private(set) var items: [Item] = []
    private var chunk = [UInt8](repeating: 0, count: 65536)

    init(port: Int, maxConnecting: Int = 1000) {
        _ = E2E.processSetup
        self.port = port
        self.maxConnecting = maxConnecting
        origin = now()
    }

    deinit { for item in items where item.fd >= 0 { close(item.fd) } }

    /// Adds `request`, to be sent on its own connection `delay` seconds after the wave's start.
    @discardableResult
    func add(_ request: String, after delay: Double = 0, expecting: Int = 1) -> Int {
        items.append(Item(request: Array(request.utf8), startAt: origin + delay, expecting: expecting))
        return items.count - 1
    }

    subscript(index: Int) -> Item { items[index] }

    var waitingCount: Int { items.reduce(0) { $0 + ($1.waiting ? 1 : 0) } }

    /// Drives every request until all are answered (or failed) or `timeout`
    /// passes. `tick` runs about every 50 ms.
    func run(timeout: Double, tick: ((ModeWave) -> Void)? = nil) {
        let deadline = now() + timeout
        let order = items.indices.filter { items[$0].phase == .waiting }.sorted { items[$0].startAt < items[$1].startAt }
        var nextStart = 0
        var active: [Int] = items.indices.filter { items[$0].phase != .waiting && items[$0].phase != .done }
        var connecting = active.filter { items[$0].phase == .connecting }.count
        var lastTick = 0.0
        var pfds: [pollfd] = []
        pfds.reserveCapacity(items.count)

        while now() < deadline {
            let t = now()
            if let tick, t - lastTick >= 0.05 { lastTick = t; tick(self) }
            // Start what is due.
            while nextStart < order.count, connecting < maxConnecting, items[order[nextStart]].startAt <= now() {
                let i = order[nextStart]
                nextStart += 1
                switch ConnectionFleet.connectNonblocking(port: port, receiveBuffer: nil) {
                case .success(let fd):
                    items[i].fd = fd
                    items[i].phase = .connecting
                    connecting += 1
                    active.append(i)
                case .failure(let error):
                    items[i].error = error.description
                    items[i].phase = .done
                }
            }
            if active.isEmpty && nextStart >= order.count { break }

            pfds.removeAll(keepingCapacity: true)
            for i in active {
                let events: Int16
                switch items[i].phase {
                case .connecting, .sending: events = Int16(POLLOUT)
                default: events = Int16(POLLIN)
                }
                pfds.append(pollfd(fd: items[i].fd, events: events, revents: 0))
            }
            var wait: Int32 = 5
            if nextStart < order.count {
                wait = Int32(max(0, min(5, (items[order[nextStart]].startAt - now()) * 1000)).rounded(.up))
            }
            if pfds.isEmpty { usleep(useconds_t(wait) * 1000); continue }
            let ready = poll(&pfds, nfds_t(pfds.count), wait)
            if ready < 0 { if errno == EINTR { continue }; break }
            if ready == 0 { continue }
            var finished = false
            for (k, i) in active.enumerated() where pfds[k].revents != 0 {
                let wasConnecting = items[i].phase == .connecting
                handle(i, revents: pfds[k].revents)
                if wasConnecting, items[i].phase != .connecting { connecting -= 1 }
                if items[i].phase == .done { finished = true }
            }
            if finished { active.removeAll { items[$0].phase == .done } }
        }
        for i in items.indices where items[i].phase != .done {
            if items[i].error == nil {
                items[i].error = "unfinished after \(timeout) s (\(items[i].phase)); bytes: \(visible(items[i].buffer, limit: 200))"
            }
            items[i].phase = .done
        }
    }

    private func handle(_ i: Int, revents: Int16) {
        let fd = items[i].fd
        if items[i].phase == .connecting {
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err != 0 { fail(i, "connect: \(String(cString: strerror(err)))"); return }
            items[i].phase = .sending
        }
        if items[i].phase == .sending {
            let start = items[i].sent
            let n = items[i].request.withUnsafeBytes {
                send(fd, $0.baseAddress! + start, $0.count - start, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return }
                fail(i, "send: \(String(cString: strerror(errno)))")
                return
            }
            items[i].sent += n
            if items[i].sent == items[i].request.count {
                items[i].sentAt = now()
                items[i].phase = .reading
            }
            return
        }
        guard items[i].phase == .reading else { return }
        var eof = false
        while true {
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, Int32(MSG_DONTWAIT)) }
            if got > 0 { items[i].buffer.append(contentsOf: chunk[0..<got]); continue }
            if got == 0 { eof = true; break }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { break }
            eof = true
            break
        }
        let t = now()
        while items[i].responses.count < items[i].expecting {
            switch ResponseParser.parse(items[i].buffer, atEOF: eof) {
            case .complete(let response, let consumed):
                items[i].responses.append(response)
                items[i].answeredAt.append(t)
                items[i].buffer.removeFirst(consumed)
                continue
            case .invalid(let why):
                fail(i, "bad response: \(why)")
                return
            case .incomplete:
                break
            }
            break
        }
        if eof {
            items[i].closedAt = t
            if items[i].responses.count < items[i].expecting {
                fail(i, "closed after \(items[i].responses.count) of \(items[i].expecting) answers; bytes left: \(visible(items[i].buffer, limit: 200))")
                return
            }
        }
        if items[i].responses.count >= items[i].expecting || eof {
            close(fd)
            items[i].fd = -1
            items[i].phase = .done
        }
    }

    private func fail(_ i: Int, _ why: String) {
        items[i].error = why
        if items[i].fd >= 0 { close(items[i].fd); items[i].fd = -1 }
        items[i].phase = .done
    }
}

extension Daemon {
    /// A daemon from `config` run by `binary` (the release build, say), with
    /// `environment` added to its own.
    static func launch(_ config: DaemonConfig, binary: String = E2E.binaryPath,
                       environment: [String: String] = [:], startTimeout: Double = 30) throws -> Daemon {
        let dir = try E2E.makeTempDir()
        return try Daemon(yaml: config.yaml(controlPath: dir.appendingPathComponent("control.sock").path), dir: dir,
                          expectedListeners: config.listen.count, startTimeout: startTimeout,
                          binary: binary, environment: environment)
    }

    /// `GET target` on a fresh connection, timed from connect to the whole answer.
    func timedGet(_ target: String, timeout: Double = 20) throws -> (response: HTTPResponse, seconds: Double) {
        let start = now()
        let response = try request("GET \(target) HTTP/1.1\r\nHost: localhost\r\n\r\n", timeout: timeout)
        return (response, now() - start)
    }

    /// `GET target` on a fresh connection.
    func get(_ target: String, timeout: Double = 20) throws -> HTTPResponse {
        try request("GET \(target) HTTP/1.1\r\nHost: localhost\r\n\r\n", timeout: timeout)
    }

    /// Rounds of `builtin.cpu` at `path` that take about `target` seconds on
    /// this daemon (measured, not assumed: debug and release differ ~6×).
    func calibrateCPU(path: String, target: Double) throws -> (rounds: Int, seconds: Double) {
        var rounds = 200_000
        var seconds = 0.0
        for _ in 0..<8 {
            let (response, elapsed) = try timedGet("\(path)?rounds=\(rounds)", timeout: 60)
            guard response.status == 200, response.bodyString.count == 16 else {
                throw E2EError("calibration: \(path)?rounds=\(rounds) answered \(response.status): \(visible(response.raw))")
            }
            seconds = elapsed
            if elapsed >= target * 0.75 || rounds >= 100_000_000 { break }
            let scaled = Double(rounds) * target / max(elapsed, 0.01)
            rounds = min(100_000_000, max(rounds * 2, Int(scaled)))
        }
        return (rounds, seconds)
    }
}

/// Routes of every mode, for configs in these tests.
enum ModeRoutes {
    static let hello = #"{ path: /hello, handler: builtin.text, mode: sync, options: { body: "hello\n" } }"#
    static let livez = "{ path: /livez, handler: builtin.health, mode: sync }"
    static let readyz = "{ path: /readyz, handler: builtin.ready, mode: sync }"
    static let echo = "{ path: /echo, handler: builtin.echo, mode: sync }"
    static let threadEcho = "{ path: /t/echo, handler: builtin.echo, mode: thread }"
    static let processEcho = "{ path: /p/echo, handler: builtin.echo, mode: process }"
    static let delay = "{ path: /delay, handler: builtin.delay, mode: async }"
    static let sleep = "{ path: /sleep, handler: builtin.sleep, mode: sync }"
    static let threadSleep = "{ path: /t/sleep, handler: builtin.sleep, mode: thread }"
    static let cpu = "{ path: /cpu, handler: builtin.cpu, mode: sync }"
    static let processCPU = "{ path: /p/cpu, handler: builtin.cpu, mode: process }"
    static let processSleep = "{ path: /p/sleep, handler: builtin.sleep, mode: process }"

    static let basic = [hello, livez, readyz]

    /// `ROUTE` with `, timeout_ms: N` added.
    static func withTimeout(_ route: String, _ ms: Int) -> String {
        String(route.dropLast(2)) + ", timeout_ms: \(ms) }"
    }
}

extension HTTPResponse {
    /// Status, headers and body, for failure messages.
    var shown: String { visible(raw, limit: 400) }
}
