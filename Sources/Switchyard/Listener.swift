#if canImport(Glibc)
import Glibc
#endif
import CSwitchyardLinux
import SwitchyardConfig
import SwitchyardEventLoop

/// A bound, listening, non-blocking socket, shared by every loop (each
/// registers it with EPOLLEXCLUSIVE so one connection wakes one loop).
/// Its `id` names it in epoll tags across reloads, which keep it open as
/// long as the config still lists its address.
public struct Listener: Sendable {
    public private(set) var id = 0
    public let fd: Int32
    /// What the config asked for; nil for a socket systemd passed.
    public let address: ListenAddress?
    /// What was actually bound (port 0 resolved), for the log.
    public let boundDescription: String
    public let isUnix: Bool
    /// The socket unit's `FileDescriptorName=` for a socket systemd passed:
    /// it is used as it is and never closed on reload.
    public private(set) var activationName: String?

    init(fd: Int32, address: ListenAddress?, boundDescription: String, isUnix: Bool) {
        self.fd = fd; self.address = address; self.boundDescription = boundDescription; self.isUnix = isUnix
    }

    func with(id: Int) -> Listener {
        var copy = self
        copy.id = id
        return copy
    }

    /// A listening socket systemd passed (socket activation).
    static func activated(fd: Int32, name: String, id: Int) -> Listener {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
        }
        let isUnix = storage.ss_family == sa_family_t(AF_UNIX)
        let bound = isUnix ? "unix:" + unixPath(&storage) : describe(&storage)
        var listener = Listener(fd: fd, address: nil, boundDescription: "\(bound) (from systemd, \(name))", isUnix: isUnix)
        listener.id = id
        listener.activationName = name
        return listener
    }

    private static func unixPath(_ storage: inout sockaddr_storage) -> String {
        withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_un.self, capacity: 1) { un in
                withUnsafeBytes(of: un.pointee.sun_path) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
            }
        }
    }

    private static func describe(_ storage: inout sockaddr_storage) -> String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        if storage.ss_family == sa_family_t(AF_INET6) {
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                    var address = v6.pointee.sin6_addr
                    inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
                    return "[\(String(cString: text))]:\(UInt16(bigEndian: v6.pointee.sin6_port))"
                }
            }
        }
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                var address = v4.pointee.sin_addr
                inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
                return "\(String(cString: text)):\(UInt16(bigEndian: v4.pointee.sin_port))"
            }
        }
    }

    static let backlog: Int32 = 4096

    /// Binds and listens on `address`.
    public static func bind(_ address: ListenAddress) throws(SystemError) -> Listener {
        switch address {
        case .ipv4(let host, let port):
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { throw SystemError("inet_pton \(host)", errno: EINVAL) }
            let fd = try makeSocket(AF_INET)
            try withUnsafeBytes(of: &addr) { raw throws(SystemError) in
                try bindAndListen(fd, raw, what: address.description)
            }
            return Listener(fd: fd, address: address, boundDescription: "\(host):\(boundPort(fd))", isUnix: false)
        case .ipv6(let host, let port):
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_port = port.bigEndian
            guard inet_pton(AF_INET6, host, &addr.sin6_addr) == 1 else { throw SystemError("inet_pton \(host)", errno: EINVAL) }
            let fd = try makeSocket(AF_INET6)
            var on: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &on, socklen_t(MemoryLayout<Int32>.size))
            try withUnsafeBytes(of: &addr) { raw throws(SystemError) in
                try bindAndListen(fd, raw, what: address.description)
            }
            return Listener(fd: fd, address: address, boundDescription: "[\(host)]:\(boundPort(fd))", isUnix: false)
        case .unix(let path):
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
                throw SystemError("unix socket path too long: \(path)", errno: ENAMETOOLONG)
            }
            withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes) }
            // A socket file left by a run that ended would make bind fail: remove it,
            // but only when nothing answers on it — a live server keeps its socket.
            var st = stat()
            if lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFSOCK {
                if isAnswering(&addr) { throw SystemError("bind \(address)", errno: EADDRINUSE) }
                unlink(path)
            }
            let fd = try makeSocket(AF_UNIX)
            try withUnsafeBytes(of: &addr) { raw throws(SystemError) in
                try bindAndListen(fd, raw, what: address.description)
            }
            return Listener(fd: fd, address: address, boundDescription: "unix:\(path)", isUnix: true)
        }
    }

    /// Whether a server accepts connections on the unix socket `addr`.
    private static func isAnswering(_ addr: inout sockaddr_un) -> Bool {
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | cswitchyard_SOCK_CLOEXEC(), 0)
        guard probe >= 0 else { return false }
        defer { Glibc.close(probe) }
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }

    private static func makeSocket(_ family: Int32) throws(SystemError) -> Int32 {
        let fd = try checkedSyscall("socket") {
            socket(family, Int32(SOCK_STREAM.rawValue) | cswitchyard_SOCK_NONBLOCK() | cswitchyard_SOCK_CLOEXEC(), 0)
        }
        if family != AF_UNIX {
            var on: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        }
        return fd
    }

    private static func bindAndListen(_ fd: Int32, _ addr: UnsafeRawBufferPointer, what: String) throws(SystemError) {
        let sa = addr.baseAddress!.assumingMemoryBound(to: sockaddr.self)
        if Glibc.bind(fd, sa, socklen_t(addr.count)) != 0 {
            let e = errno
            Glibc.close(fd)
            throw SystemError("bind \(what)", errno: e)
        }
        if listen(fd, backlog) != 0 {
            let e = errno
            Glibc.close(fd)
            throw SystemError("listen \(what)", errno: e)
        }
    }

    private static func boundPort(_ fd: Int32) -> UInt16 {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
        }
        if storage.ss_family == sa_family_t(AF_INET6) {
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) } }
        }
        return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) } }
    }

    public func close() {
        Glibc.close(fd)
        if case .unix(let path)? = address { unlink(path) }
    }
}
