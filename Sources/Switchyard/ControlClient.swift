#if canImport(Glibc)
import Glibc
#endif
import CSwitchyardLinux
import SwitchyardEventLoop

/// `switchyard reload`'s side of the control socket: connect, send one
/// command line, wait for the daemon's one-line answer.
public enum ControlClient {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Where `serve` puts its control socket when the config names none.
    public static func defaultPath(environment: [String: String]) -> String {
        ControlSocket.defaultPath(environment: environment)
    }

    /// Sends `command` and returns the daemon's answer (`ok …` or `error …`).
    public static func send(_ command: String, to path: String, timeoutSeconds: Int32) -> Result<String, Failure> {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            return .failure(Failure(description: "control socket path too long: \(path)"))
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | cswitchyard_SOCK_CLOEXEC(), 0)
        guard fd >= 0 else { return .failure(Failure(description: "\(SystemError("socket", errno: errno))")) }
        defer { close(fd) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            return .failure(Failure(description: "cannot reach the daemon at \(path): \(String(cString: strerror(errno))) "
                                    + "(is it running? does its config set another control: path? --control names it)"))
        }
        var timeout = timeval(tv_sec: Int(timeoutSeconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let line = command + "\n"
        _ = line.withCString { Glibc.send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n > 0 { answer += chunk[0..<n]; continue }
            if n < 0, errno == EINTR { continue }
            if n < 0 { return .failure(Failure(description: "no answer from the daemon within \(timeoutSeconds) s")) }
            break
        }
        guard !answer.isEmpty else { return .failure(Failure(description: "the daemon closed the control connection without an answer")) }
        var text = String(decoding: answer, as: UTF8.self)
        while text.hasSuffix("\n") { text.removeLast() }
        return .success(text)
    }
}
