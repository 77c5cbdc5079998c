import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A daemon started the way systemd starts it from a socket unit: a listening
/// TCP socket on 127.0.0.1 as fd 3, LISTEN_FDS=1, LISTEN_FDNAMES=http, and
/// LISTEN_PID set (by a shell that then execs) to the pid the daemon will have.
/// `command` must keep that pid (strace -D does).
final class ActivatedDaemon {
    let pid: pid_t
    let port: Int
    let logPath: String
    private(set) var listeners: [String] = []
    private var exit: ChildProcess.Exit?

    init(command: [String], environment: [String: String], log: String, startTimeout: Double = 60) throws {
        _ = E2E.processSetup
        logPath = log
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw E2EError("socket: \(String(cString: strerror(errno)))") }
        defer { close(listener) }   // the daemon has its own copy as fd 3
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(listener, pointer, length) == 0 && listen(listener, 128) == 0 && getsockname(listener, pointer, &length) == 0
            }
        }
        guard bound else { throw E2EError("bind/listen on 127.0.0.1:0: \(String(cString: strerror(errno)))") }
        port = Int(UInt16(bigEndian: addr.sin_port))

        let shell = ["/bin/sh", "-c", #"LISTEN_PID=$$ exec "$@""#, "sh"] + command
        let env = E2E.childEnvironment(environment.merging(["LISTEN_FDS": "1", "LISTEN_FDNAMES": "http"]) { $1 })
        pid = try ChildProcess.spawn(shell, environment: env) { actions in
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
            posix_spawn_file_actions_adddup2(&actions, listener, 3)   // dup2 clears close-on-exec on fd 3 only
        }

        let deadline = now() + startTimeout
        while listeners.isEmpty {
            listeners = Daemon.listeningAddresses(in: self.log)
            if !listeners.isEmpty { break }
            if let exit = poll() { throw E2EError("switchyard ended (\(exit)) before listening; log:\n\(self.log)") }
            if now() > deadline {
                Glibc.kill(pid, SIGKILL)
                throw E2EError("switchyard did not log 'listening on' within \(startTimeout) s; log:\n\(self.log)")
            }
            sleep(seconds: 0.02)
        }
    }

    deinit {
        if poll() == nil {
            Glibc.kill(pid, SIGKILL)
            _ = wait(timeout: 5)
        }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func poll() -> ChildProcess.Exit? {
        if let exit { return exit }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        let low = status & 0x7f
        exit = low == 0 ? .exited((status >> 8) & 0xff) : .signaled(low)
        return exit
    }

    func wait(timeout: Double) -> ChildProcess.Exit? {
        let deadline = now() + timeout
        while now() < deadline {
            if let exit = poll() { return exit }
            sleep(seconds: 0.01)
        }
        return poll()
    }
}
