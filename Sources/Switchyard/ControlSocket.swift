#if canImport(Glibc)
import Glibc
#endif
import CSwitchyardLinux
import SwitchyardEventLoop

/// The unix socket `switchyard reload` talks to. A client connects and
/// writes one command line (`reload`); the daemon answers one line — `ok …`
/// or `error …` — when the command is done, and closes. Owned by the main
/// thread, which polls `fd`.
final class ControlSocket {
    let path: String
    let fd: Int32
    /// Clients whose command is not complete yet, and those waiting for a reload.
    private var reading: [(fd: Int32, bytes: [UInt8], since: UInt64)] = []
    private(set) var waitingForReload: [Int32] = []

    /// The default path: `$RUNTIME_DIRECTORY/control.sock` (systemd's
    /// `RuntimeDirectory=`, for `serve` and `ExecReload=` alike), else
    /// `$XDG_RUNTIME_DIR/switchyard/control.sock`, else
    /// `/tmp/switchyard-UID/control.sock`.
    static func defaultPath(environment: [String: String]) -> String {
        if let directory = environment["RUNTIME_DIRECTORY"]?.split(separator: ":").first, !directory.isEmpty {
            return "\(directory)/control.sock"
        }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            return "\(runtime)/switchyard/control.sock"
        }
        return "/tmp/switchyard-\(getuid())/control.sock"
    }

    /// Binds `path` (owner-only), making its directory if it is missing. A
    /// socket file nobody answers on is replaced; one a live daemon serves is not.
    init(path: String) throws(SystemError) {
        self.path = path
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !directory.isEmpty { mkdir(directory, 0o700) }
        let listener = try Listener.bind(.unix(path: path))
        chmod(path, 0o600)
        fd = listener.fd
    }

    deinit {
        for client in reading { close(client.fd) }
        for client in waitingForReload { close(client) }
        close(fd)
        unlink(path)
    }

    /// `fd` is readable: take new clients. Then read what each has sent;
    /// returns true when some client asked for a reload. Clients that send
    /// nothing useful within 2 s are told so and dropped.
    func serviceClients(now: UInt64) -> Bool {
        while true {
            let client = cswitchyard_accept4(fd, nil, nil, cswitchyard_SOCK_NONBLOCK() | cswitchyard_SOCK_CLOEXEC())
            if client < 0 { break }
            reading.append((client, [], now))
        }
        var asked = false
        var stillReading: [(fd: Int32, bytes: [UInt8], since: UInt64)] = []
        for var client in reading {
            var chunk = [UInt8](repeating: 0, count: 256)
            let n = read(client.fd, &chunk, chunk.count)
            if n > 0 { client.bytes += chunk[0..<n] }
            if let newline = client.bytes.firstIndex(of: 0x0A) {
                let command = String(decoding: client.bytes[..<newline], as: UTF8.self).trimmingSpaces()
                if command == "reload" {
                    waitingForReload.append(client.fd)
                    asked = true
                } else {
                    answer(client.fd, "error unknown command '\(command)'; the daemon knows: reload")
                }
            } else if n == 0 || client.bytes.count > 4096 || now - client.since > 2000 {
                answer(client.fd, "error no command received")
            } else {
                stillReading.append(client)
            }
        }
        reading = stillReading
        return asked
    }

    /// Whether clients are mid-command (the main thread then polls again soon).
    var hasPartialClients: Bool { !reading.isEmpty }

    /// Tells every client waiting for a reload how it went.
    func answerReloads(_ line: String) {
        for client in waitingForReload { answer(client, line) }
        waitingForReload.removeAll()
    }

    private func answer(_ client: Int32, _ line: String) {
        let text = line + "\n"
        _ = text.withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        close(client)
    }
}

extension String {
    func trimmingSpaces() -> String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" || first == "\r" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text.removeLast() }
        return String(text)
    }
}
