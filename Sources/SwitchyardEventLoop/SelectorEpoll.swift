#if canImport(Glibc)
import Glibc
#endif
import CSwitchyardLinux

/// Readiness interest, as epoll bits.
public struct Interest: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    // Computed and inlinable, so each use folds to a constant: a stored
    // static would cost a lazy-initialisation check per event.
    @inlinable public static var read: Interest { Interest(rawValue: cswitchyard_EPOLLIN()) }
    @inlinable public static var write: Interest { Interest(rawValue: cswitchyard_EPOLLOUT()) }
    /// For listeners shared by several loops: wake one loop, not all.
    @inlinable public static var exclusive: Interest { Interest(rawValue: cswitchyard_EPOLLEXCLUSIVE()) }
}

/// Level-triggered epoll. Each registration carries a 64-bit tag (kind, slot
/// and generation, see `EventTag`) so a stale event for a closed and reused
/// fd is recognised by its owner. Used only by the thread that owns the loop.
public struct SelectorEpoll: ~Copyable {
    public let fd: Int32

    public init() throws(SystemError) {
        fd = try checkedSyscall("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
    }

    deinit { close(fd) }

    public func add(_ target: Int32, tag: UInt64, interest: Interest) throws(SystemError) {
        try control(EPOLL_CTL_ADD, target, tag, interest)
    }

    public func modify(_ target: Int32, tag: UInt64, interest: Interest) throws(SystemError) {
        try control(EPOLL_CTL_MOD, target, tag, interest)
    }

    /// Removal is best effort: closing the fd removes it anyway.
    public func remove(_ target: Int32) {
        var event = epoll_event()
        _ = epoll_ctl(fd, EPOLL_CTL_DEL, target, &event)
    }

    private func control(_ op: Int32, _ target: Int32, _ tag: UInt64, _ interest: Interest) throws(SystemError) {
        var event = epoll_event()
        event.events = interest.rawValue
        event.data.u64 = tag
        _ = try checkedSyscall("epoll_ctl") { epoll_ctl(fd, op, target, &event) }
    }

    /// Waits up to `timeoutMs` (-1: forever) and returns how many events were written.
    public func wait(into events: UnsafeMutablePointer<epoll_event>, capacity: Int32, timeoutMs: Int32) -> Int {
        let n = Int(cswitchyard_epoll_wait(fd, events, capacity, timeoutMs))
        return n < 0 ? 0 : n   // EINTR: the caller simply turns again
    }
}

/// The layout of an epoll tag: kind in the top byte, generation in the next
/// 24 bits, slot in the low 32.
public struct EventTag: Sendable, Hashable {
    public var raw: UInt64

    @inline(__always) public init(raw: UInt64) { self.raw = raw }

    @inline(__always) public init(kind: UInt8, slot: Int, generation: UInt32) {
        raw = UInt64(kind) << 56 | UInt64(generation & 0xFF_FFFF) << 32 | UInt64(UInt32(truncatingIfNeeded: slot))
    }

    @inline(__always) public var kind: UInt8 { UInt8(truncatingIfNeeded: raw >> 56) }
    @inline(__always) public var slot: Int { Int(UInt32(truncatingIfNeeded: raw)) }
    @inline(__always) public var generation: UInt32 { UInt32(truncatingIfNeeded: raw >> 32) & 0xFF_FFFF }
}
