import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP or unix-socket client over plain BSD sockets, for tests that
/// need byte-exact control: what is written, in how many writes, and whether
/// and when the server closes. Reads are bounded with poll(2).
final class RawClient {
    let fd: Int32
    /// Bytes read but not yet consumed by `readResponse`.
    private(set) var buffer: [UInt8] = []
    /// The server closed its side (read returned 0).
    private(set) var sawEOF = false
    /// The server reset the connection (ECONNRESET), which also ends it.
    private(set) var sawReset = false
    var closedByPeer: Bool { sawEOF || sawReset }

    /// Connects to `host:port`; a host with a colon is IPv6.
    init(port: Int, host: String = "127.0.0.1") throws {
        _ = E2E.processSetup
        let v6 = host.contains(":")
        let fd = socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw E2EError("socket: \(String(cString: strerror(errno)))") }
        var rc: Int32
        if v6 {
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_port = in_port_t(UInt16(port)).bigEndian
            guard inet_pton(AF_INET6, host, &addr.sin6_addr) == 1 else { close(fd); throw E2EError("bad IPv6 address \(host)") }
            rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port)).bigEndian
            guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { close(fd); throw E2EError("bad IPv4 address \(host)") }
            rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        if rc != 0 {
            let e = errno
            close(fd)
            throw E2EError("connect to \(host) port \(port): \(String(cString: strerror(e)))")
        }
        self.fd = fd
        setTimeouts()
    }

    /// Connects to a unix stream socket.
    init(unixPath: String) throws {
        _ = E2E.processSetup
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw E2EError("socket: \(String(cString: strerror(errno)))") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(unixPath.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { close(fd); throw E2EError("unix path too long") }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in pathBytes.enumerated() { raw[i] = b }
            raw[pathBytes.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if rc != 0 {
            let e = errno
            close(fd)
            throw E2EError("connect to unix:\(unixPath): \(String(cString: strerror(e)))")
        }
        self.fd = fd
        setTimeouts()
    }

    deinit { close(fd) }

    /// Blocking calls never hang the suite: 10 s caps on send and recv.
    private func setTimeouts() {
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    // MARK: Writing

    /// Writes every byte or throws.
    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        if let error = trySend(bytes) { throw E2EError("send failed: \(error)") }
    }

    /// Writes every byte it can; returns the error text if the server stopped
    /// accepting them (EPIPE, ECONNRESET) — expected when it closes on us.
    @discardableResult
    func trySend(_ text: String) -> String? { trySend(Array(text.utf8)) }

    @discardableResult
    func trySend(_ bytes: [UInt8]) -> String? {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EINTR { continue }
                return String(cString: strerror(errno))
            }
            sent += n
        }
        return nil
    }

    /// Half-closes the writing side (the server sees EOF after our bytes).
    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    // MARK: Reading

    enum FillResult: Equatable { case data(Int), closed, timeout }

    /// Waits until `deadline` for bytes; appends what arrives to `buffer`.
    @discardableResult
    func fill(until deadline: Double) -> FillResult {
        if closedByPeer { return .closed }
        while true {
            let remaining = deadline - now()
            if remaining <= 0 { return .timeout }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(min(remaining * 1000, 60_000).rounded(.up)))
            if ready < 0 { if errno == EINTR { continue }; return .closed }
            if ready == 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                return .data(n)
            }
            if n == 0 { sawEOF = true; return .closed }
            switch errno {
            case EINTR, EAGAIN: continue
            case ECONNRESET: sawReset = true; return .closed
            default: sawReset = true; return .closed
            }
        }
    }

    /// Reads one response. `head`: the request was HEAD. Throws with the bytes
    /// seen if the server closes or goes quiet before a whole response.
    func readResponse(head: Bool = false, timeout: Double = 10) throws -> HTTPResponse {
        let deadline = now() + timeout
        while true {
            switch ResponseParser.parse(buffer, head: head, atEOF: closedByPeer) {
            case .complete(let response, let consumed):
                buffer.removeFirst(consumed)
                return response
            case .invalid(let why):
                throw E2EError("unparseable response (\(why)); bytes: \(visible(buffer))")
            case .incomplete:
                break
            }
            if closedByPeer {
                throw E2EError("connection closed (\(sawReset ? "reset" : "EOF")) before a complete response; bytes: \(visible(buffer))")
            }
            if fill(until: deadline) == .timeout {
                throw E2EError("no complete response within \(timeout) s; bytes so far: \(visible(buffer))")
            }
        }
    }

    /// Reads until the server closes or `timeout` passes. Returns whatever was
    /// unconsumed plus everything that arrived, and whether the close was seen.
    func readUntilClosed(timeout: Double) -> (bytes: [UInt8], closed: Bool) {
        let deadline = now() + timeout
        while !closedByPeer {
            if fill(until: deadline) == .timeout { break }
        }
        let bytes = buffer
        buffer.removeAll()
        return (bytes, closedByPeer)
    }

    /// Waits up to `timeout` for any byte or a close, without consuming.
    /// True if the connection is still open and silent.
    func staysOpenAndSilent(for seconds: Double) -> Bool {
        let result = fill(until: now() + seconds)
        return result == .timeout && buffer.isEmpty
    }
}
