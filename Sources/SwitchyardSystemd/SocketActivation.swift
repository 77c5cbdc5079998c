#if canImport(Glibc)
import Glibc
#endif
import CSystemd

/// Sockets systemd passed at start (`LISTEN_FDS`, `LISTEN_PID`,
/// `LISTEN_FDNAMES`), read once through `sd_listen_fds_with_names`, which
/// also clears the variables so no child inherits them.
public enum SocketActivation {
    public struct PassedSocket: Sendable {
        public var fd: Int32
        /// From `FileDescriptorName=` in the socket unit; systemd's default is `unknown`.
        public var name: String
    }

    /// The passed sockets (fd 3 onward), made close-on-exec and
    /// non-blocking; empty when none were passed to this process.
    public static func take() -> [PassedSocket] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(1, &names)
        guard count > 0 else { return [] }
        defer {
            if let names {
                for i in 0..<Int(count) { free(names[i]) }
                free(names)
            }
        }
        return (0..<Int(count)).map { i in
            let fd = SD_LISTEN_FDS_START + Int32(i)
            _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            let name = names?[i].map { String(cString: $0) } ?? "unknown"
            return PassedSocket(fd: fd, name: name)
        }
    }
}
