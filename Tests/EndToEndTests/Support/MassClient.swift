import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Many nonblocking connections driven by one poll(2) loop, so a test can hold
/// a thousand connections open at once without a thousand threads.
final class MassClient {
    private(set) var fds: [Int32] = []
    /// Per connection: the first failure, if any.
    private(set) var failures: [Int: String] = [:]

    /// Starts `count` nonblocking connects to 127.0.0.1:`port`.
    init(port: Int, count: Int) {
        _ = E2E.processSetup
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port)).bigEndian
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        for i in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd < 0 {
                failures[i] = "socket: \(String(cString: strerror(errno)))"
                fds.append(-1)
                continue
            }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if rc != 0, errno != EINPROGRESS {
                failures[i] = "connect: \(String(cString: strerror(errno)))"
            }
            fds.append(fd)
        }
    }

    deinit { for fd in fds where fd >= 0 { close(fd) } }

    /// Sends `request` on every healthy connection (after its connect
    /// completes) and reads one response from each, all concurrently, until
    /// every one is answered or `timeout` passes. Returns the responses by index.
    func roundTrip(_ request: String, timeout: Double) -> [Int: HTTPResponse] {
        enum Phase { case connecting, reading, done }
        let bytes = Array(request.utf8)
        var phase = [Phase](repeating: .connecting, count: fds.count)
        var buffers = [[UInt8]](repeating: [], count: fds.count)
        var responses: [Int: HTTPResponse] = [:]
        for i in fds.indices where failures[i] != nil { phase[i] = .done }

        func fail(_ i: Int, _ why: String) { failures[i] = why; phase[i] = .done }

        let deadline = now() + timeout
        var chunk = [UInt8](repeating: 0, count: 16384)
        while now() < deadline {
            var active: [Int] = []
            var pfds: [pollfd] = []
            for i in fds.indices where phase[i] != .done {
                active.append(i)
                pfds.append(pollfd(fd: fds[i], events: Int16(phase[i] == .connecting ? POLLOUT : POLLIN), revents: 0))
            }
            if active.isEmpty { break }
            let n = poll(&pfds, nfds_t(pfds.count), 100)
            if n < 0 { if errno == EINTR { continue }; break }
            if n == 0 { continue }
            for (k, i) in active.enumerated() where pfds[k].revents != 0 {
                let fd = fds[i]
                switch phase[i] {
                case .connecting:
                    var err: Int32 = 0
                    var len = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
                    if err != 0 { fail(i, "connect: \(String(cString: strerror(err)))"); continue }
                    let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
                    if sent != bytes.count { fail(i, "send: \(sent < 0 ? String(cString: strerror(errno)) : "short write \(sent)")"); continue }
                    phase[i] = .reading
                case .reading:
                    var eof = false
                    while true {
                        let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
                        if got > 0 { buffers[i].append(contentsOf: chunk[0..<got]); continue }
                        if got == 0 { eof = true; break }
                        if errno == EINTR { continue }
                        if errno == EAGAIN || errno == EWOULDBLOCK { break }
                        eof = true
                        if buffers[i].isEmpty { failures[i] = "recv: \(String(cString: strerror(errno)))" }
                        break
                    }
                    switch ResponseParser.parse(buffers[i], atEOF: eof) {
                    case .complete(let response, let consumed):
                        responses[i] = response
                        buffers[i].removeFirst(consumed)
                        phase[i] = .done
                    case .invalid(let why):
                        fail(i, "bad response: \(why)")
                    case .incomplete:
                        if eof { fail(i, failures[i] ?? "closed before a response: \(visible(buffers[i]))") }
                    }
                case .done:
                    break
                }
            }
        }
        for i in fds.indices where phase[i] != .done && failures[i] == nil {
            failures[i] = "no response within \(timeout) s (\(phase[i] == .connecting ? "connect pending" : "waiting for response"))"
        }
        return responses
    }
}
