import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Many nonblocking connections, each following the same script — send some
/// bytes, then trickle more at an interval, read or never read — driven by one
/// poll(2) loop on the calling thread, so a test can play thousands of slow or
/// stalled clients at once. `/livez`-style probes on fresh connections can run
/// in the same loop, so they are timed while the attack goes on.
final class ConnectionFleet {
    struct Script {
        /// Sent as soon as the connection is up, all of it (partial writes resume).
        var initial: [UInt8] = []
        /// Sent once `initial` is out, then again every `trickleInterval` seconds.
        var trickle: [UInt8] = []
        var trickleInterval: Double = 1
        /// At most this many trickles per connection.
        var trickleLimit: Int = .max
        /// Stop trickling once the server has sent anything.
        var stopTrickleOnReply = true
        /// False: never read — the server's answers pile up in the kernel's
        /// buffers and then in its own.
        var read = true
        /// SO_RCVBUF, set before connect (so the window stays small).
        var receiveBuffer: Int32? = nil
    }

    struct Connection {
        var fd: Int32 = -1
        var localPort: Int = 0
        var connected = false
        var initialSent = 0
        var trickles = 0
        var nextTrickle = 0.0
        /// When the first byte left (the server's clocks start no earlier).
        var firstByteAt: Double?
        var received: [UInt8] = []
        /// When the client saw EOF or a reset (reading connections only).
        var closedAt: Double?
        var reset = false
        var error: String?
        var isOpen: Bool { fd >= 0 && closedAt == nil && error == nil }
    }

    /// One probe: a fresh connection, one request, one response.
    struct Probe {
        var startedAt: Double
        var latency: Double?
        var status: Int?
        var error: String?
    }

    let port: Int
    let script: Script
    private(set) var connections: [Connection] = []
    private(set) var probes: [Probe] = []
    let startedAt: Double

    private struct ProbeConnection {
        var index: Int
        var fd: Int32
        var request: [UInt8]
        var sent = false
        var buffer: [UInt8] = []
    }
    private var probeConnections: [ProbeConnection] = []
    private var chunk = [UInt8](repeating: 0, count: 65536)

    init(port: Int, count: Int, script: Script) {
        _ = E2E.processSetup
        self.port = port
        self.script = script
        startedAt = now()
        connections.reserveCapacity(count)
        for _ in 0..<count {
            var c = Connection()
            switch Self.connectNonblocking(port: port, receiveBuffer: script.receiveBuffer) {
            case .success(let fd): c.fd = fd; c.localPort = Self.localPort(fd)
            case .failure(let error): c.error = error.description
            }
            connections.append(c)
        }
    }

    deinit {
        closeAll()
        for p in probeConnections { close(p.fd) }
    }

    /// Closes every connection from our side.
    func closeAll() {
        for i in connections.indices where connections[i].fd >= 0 {
            close(connections[i].fd)
            connections[i].fd = -1
        }
    }

    var openCount: Int { connections.filter(\.isOpen).count }
    var closedByServer: [Connection] { connections.filter { $0.closedAt != nil } }
    var failures: [String] { connections.compactMap(\.error) }

    /// Starts a probe now: `request` on a fresh connection; its answer is read in `run`.
    func startProbe(_ request: String) {
        let index = probes.count
        probes.append(Probe(startedAt: now()))
        switch Self.connectNonblocking(port: port, receiveBuffer: nil) {
        case .success(let fd): probeConnections.append(ProbeConnection(index: index, fd: fd, request: Array(request.utf8)))
        case .failure(let error): probes[index].error = error.description
        }
    }

    /// Drives connections and probes until `deadline`, or until `done` says so.
    /// `tick` runs about every 50 ms (sampling, starting probes).
    func run(until deadline: Double, tick: (ConnectionFleet) -> Void = { _ in }, done: (ConnectionFleet) -> Bool = { _ in false }) {
        var lastTick = 0.0
        while now() < deadline {
            if now() - lastTick >= 0.05 {
                lastTick = now()
                tick(self)
                if done(self) { return }
            }
            step(timeoutMs: 10)
        }
    }

    private func step(timeoutMs: Int32) {
        let t = now()
        // Trickles due.
        for i in connections.indices where connections[i].isOpen && connections[i].connected
            && connections[i].initialSent == script.initial.count && !script.trickle.isEmpty {
            let c = connections[i]
            guard t >= c.nextTrickle, c.trickles < script.trickleLimit else { continue }
            if script.stopTrickleOnReply, !c.received.isEmpty { continue }
            let n = script.trickle.withUnsafeBytes { send(c.fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                if connections[i].firstByteAt == nil { connections[i].firstByteAt = t }
                connections[i].trickles += 1
                connections[i].nextTrickle = t + script.trickleInterval
            } else if n < 0, errno != EAGAIN, errno != EWOULDBLOCK, errno != EINTR {
                serverEnded(i, reset: true)
            }
        }

        var pfds: [pollfd] = []
        var owners: [Int] = []   // >= 0 connection index, < 0: -(probe slot + 1)
        pfds.reserveCapacity(connections.count + probeConnections.count)
        for (i, c) in connections.enumerated() where c.isOpen {
            var events: Int16 = 0
            if !c.connected || c.initialSent < script.initial.count { events |= Int16(POLLOUT) }
            if script.read { events |= Int16(POLLIN) }
            if events == 0 { continue }
            pfds.append(pollfd(fd: c.fd, events: events, revents: 0))
            owners.append(i)
        }
        for (k, p) in probeConnections.enumerated() {
            pfds.append(pollfd(fd: p.fd, events: Int16(p.sent ? POLLIN : POLLOUT), revents: 0))
            owners.append(-(k + 1))
        }
        if pfds.isEmpty { usleep(useconds_t(timeoutMs) * 1000); return }
        let ready = poll(&pfds, nfds_t(pfds.count), timeoutMs)
        if ready <= 0 { return }
        var finishedProbes: [Int] = []
        for (k, owner) in owners.enumerated() where pfds[k].revents != 0 {
            let revents = pfds[k].revents
            if owner < 0 {
                if handleProbe(-owner - 1, revents) { finishedProbes.append(-owner - 1) }
                continue
            }
            let i = owner
            if !connections[i].connected {
                var err: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(connections[i].fd, SOL_SOCKET, SO_ERROR, &err, &len)
                if err != 0 { connections[i].error = "connect: \(String(cString: strerror(err)))"; continue }
                if revents & Int16(POLLOUT) == 0 && revents & Int16(POLLIN) == 0 { continue }
                connections[i].connected = true
                connections[i].nextTrickle = now()
            }
            if revents & Int16(POLLOUT) != 0, connections[i].initialSent < script.initial.count {
                let start = connections[i].initialSent
                let n = script.initial.withUnsafeBytes {
                    send(connections[i].fd, $0.baseAddress! + start, $0.count - start, Int32(MSG_NOSIGNAL))
                }
                if n > 0 {
                    if connections[i].firstByteAt == nil { connections[i].firstByteAt = now() }
                    connections[i].initialSent += n
                    if connections[i].initialSent == script.initial.count {
                        connections[i].nextTrickle = now() + script.trickleInterval
                    }
                } else if n < 0, errno != EAGAIN, errno != EWOULDBLOCK, errno != EINTR {
                    serverEnded(i, reset: true)
                    continue
                }
            }
            if script.read, revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                readAvailable(i)
            }
        }
        for k in finishedProbes.sorted(by: >) {
            close(probeConnections[k].fd)
            probeConnections.remove(at: k)
        }
        // Probes that outlive 5 s are given up.
        for k in probeConnections.indices.reversed() where now() - probes[probeConnections[k].index].startedAt > 5 {
            probes[probeConnections[k].index].error = "no answer within 5 s: \(visible(probeConnections[k].buffer))"
            close(probeConnections[k].fd)
            probeConnections.remove(at: k)
        }
    }

    private func readAvailable(_ i: Int) {
        while true {
            let got = chunk.withUnsafeMutableBytes { recv(connections[i].fd, $0.baseAddress!, $0.count, Int32(MSG_DONTWAIT)) }
            if got > 0 { connections[i].received.append(contentsOf: chunk[0..<got]); continue }
            if got == 0 { serverEnded(i, reset: false); return }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return }
            serverEnded(i, reset: true)
            return
        }
    }

    private func serverEnded(_ i: Int, reset: Bool) {
        guard connections[i].closedAt == nil else { return }
        connections[i].closedAt = now()
        connections[i].reset = reset
    }

    /// True when the probe is finished.
    private func handleProbe(_ k: Int, _ revents: Int16) -> Bool {
        let index = probeConnections[k].index
        let fd = probeConnections[k].fd
        if !probeConnections[k].sent {
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err != 0 { probes[index].error = "connect: \(String(cString: strerror(err)))"; return true }
            let request = probeConnections[k].request
            let n = request.withUnsafeBytes { send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            if n != request.count { probes[index].error = "send: \(n < 0 ? String(cString: strerror(errno)) : "short")"; return true }
            probeConnections[k].sent = true
            return false
        }
        var eof = false
        while true {
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, Int32(MSG_DONTWAIT)) }
            if got > 0 { probeConnections[k].buffer.append(contentsOf: chunk[0..<got]); continue }
            if got == 0 { eof = true }
            else if errno == EINTR { continue }
            else if errno != EAGAIN && errno != EWOULDBLOCK { eof = true }
            break
        }
        switch ResponseParser.parse(probeConnections[k].buffer, atEOF: eof) {
        case .complete(let response, _):
            probes[index].status = response.status
            probes[index].latency = now() - probes[index].startedAt
            return true
        case .invalid(let why):
            probes[index].error = "bad response: \(why)"
            return true
        case .incomplete:
            if eof { probes[index].error = "closed before an answer: \(visible(probeConnections[k].buffer))"; return true }
            return false
        }
    }

    // MARK: Sockets

    static func connectNonblocking(port: Int, receiveBuffer: Int32?) -> Result<Int32, E2EError> {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { return .failure(E2EError("socket: \(String(cString: strerror(errno)))")) }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port)).bigEndian
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0, errno != EINPROGRESS {
            let e = errno
            close(fd)
            return .failure(E2EError("connect: \(String(cString: strerror(e)))"))
        }
        return .success(fd)
    }

    static func localPort(_ fd: Int32) -> Int {
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

/// What /proc says about a running daemon.
enum ProcStats {
    /// A /proc file read whole with read(2): Foundation may stop at its
    /// reported size (0) or one page, and /proc/net/tcp is many pages.
    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// VmRSS of `pid`, in bytes.
    static func rss(_ pid: Int32) -> Int? {
        guard let status = read("/proc/\(pid)/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let digits = line.split(separator: " ").dropFirst().first
            return digits.flatMap { Int($0) }.map { $0 * 1024 }
        }
        return nil
    }

    /// The targets of `pid`'s open descriptors (readlink /proc/PID/fd/*).
    static func descriptorTargets(_ pid: Int32) -> [String] {
        let dir = "/proc/\(pid)/fd"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        return names.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "\(dir)/\($0)") }
    }

    /// How many of `pid`'s descriptors are open on /dev/null.
    static func devNullCount(_ pid: Int32) -> Int {
        descriptorTargets(pid).filter { $0 == "/dev/null" }.count
    }

    /// Client ports of the IPv4 TCP connections to `serverPort` whose socket
    /// `pid` still holds open (/proc/net/tcp rows matched to /proc/PID/fd inodes).
    /// A connection the daemon has closed is gone from its descriptors even
    /// while the kernel still tries to deliver its last bytes.
    static func clientPortsHeld(by pid: Int32, serverPort: Int) -> Set<Int> {
        var inodes = Set<String>()
        for target in descriptorTargets(pid) where target.hasPrefix("socket:[") {
            inodes.insert(String(target.dropFirst("socket:[".count).dropLast()))
        }
        guard let table = read("/proc/net/tcp") else { return [] }
        var held = Set<Int>()
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 9 else { continue }
            let local = fields[1].split(separator: ":"), remote = fields[2].split(separator: ":")
            guard local.count == 2, remote.count == 2, Int(local[1], radix: 16) == serverPort,
                  let clientPort = Int(remote[1], radix: 16), inodes.contains(String(fields[9])) else { continue }
            held.insert(clientPort)
        }
        return held
    }
}

/// TCP_NODELAY on a client socket, so each `send` leaves as its own segment.
func setNoDelay(_ fd: Int32) {
    var on: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
}
