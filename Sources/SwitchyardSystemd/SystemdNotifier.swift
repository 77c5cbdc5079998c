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
}
