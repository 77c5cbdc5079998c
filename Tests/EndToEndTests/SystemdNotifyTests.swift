import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// sd_notify as systemd sees it: a real unix datagram socket in NOTIFY_SOCKET.
@Suite("systemd notifications")
struct SystemdNotifyTests {
    /// A bound AF_UNIX datagram socket, as systemd's notify socket is.
    final class NotifySocket {
        let fd: Int32
        let path: String

        init(path: String) throws {
            self.path = path
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw E2EError("socket: \(String(cString: strerror(errno)))") }
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
            let bound = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0 else { throw E2EError("bind \(path): \(String(cString: strerror(errno)))") }
        }

        /// The next datagram, or nil after `timeout` seconds.
        func receive(timeout: Double) -> String? {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32(timeout * 1000)) == 1 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
        }

        deinit { close(fd); unlink(path) }
    }

    @Test("READY=1 once the listener answers; STOPPING=1 on SIGTERM; exit 0")
    func readyThenStopping() throws {
        let dir = try E2E.makeTempDir()
        let notify = try NotifySocket(path: dir.appendingPathComponent("notify.sock").path)
        let config = DaemonConfig()
        let daemon = try Daemon(yaml: config.yaml(controlPath: dir.appendingPathComponent("control.sock").path), dir: dir,
                                expectedListeners: 1, environment: ["NOTIFY_SOCKET": notify.path])
        defer { daemon.stop() }

        let ready = try #require(notify.receive(timeout: 20), "no notification within 20 s")
        #expect(ready.split(separator: "\n").contains("READY=1"), "\(ready)")
        #expect(ready.contains("STATUS=generation 1 (config "), "\(ready)")
        // READY=1 comes after the bind: the listener answers at once.
        #expect(try daemon.request("GET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n").status == 200)

        daemon.process.kill(SIGTERM)
        let stopping = try #require(notify.receive(timeout: 20), "no notification after SIGTERM")
        #expect(stopping.split(separator: "\n").contains("STOPPING=1"), "\(stopping)")
        #expect(daemon.process.waitOrKill(timeout: 20) == .exited(0))
    }
}
