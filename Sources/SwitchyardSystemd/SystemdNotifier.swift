#if canImport(Glibc)
import Glibc
#endif
import CSystemd

/// Tells systemd about the daemon's life cycle through libsystemd's
/// `sd_notify`. Without `NOTIFY_SOCKET` (not under systemd) every call is a
/// cheap no-op. Thread-safe.
public struct SystemdNotifier: Sendable {
    public init() {}

    /// Sends `state` (newline-separated `KEY=value` lines). Returns whether a
    /// notification socket was there to receive it.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        sd_notify(0, state) > 0
    }

    public func ready(status: String) { notify("READY=1\nSTATUS=\(status)") }
    public func stopping(status: String) { notify("STOPPING=1\nSTATUS=\(status)") }
    public func status(_ text: String) { notify("STATUS=\(text)") }

    /// A reload begins: `RELOADING=1` with the monotonic time, as
    /// `Type=notify-reload` requires; `READY=1` must follow when it ends.
    public func reloading(status: String) {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let usec = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
        notify("RELOADING=1\nMONOTONIC_USEC=\(usec)\nSTATUS=\(status)")
    }

    /// The daemon cannot start: the reason as an errno, and a status line.
    public func failed(errno code: Int32, status: String) {
        notify("ERRNO=\(code)\nSTATUS=\(status)")
    }

    public func watchdogPing() { notify("WATCHDOG=1") }

    /// `WATCHDOG_USEC` when the watchdog is on for this process (and
    /// `WATCHDOG_PID`, if set, is ours), else nil.
    public static func watchdogMicroseconds() -> UInt64? {
        var usec: UInt64 = 0
        return sd_watchdog_enabled(0, &usec) > 0 && usec > 0 ? usec : nil
    }
}
