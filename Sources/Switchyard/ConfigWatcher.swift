#if canImport(Glibc)
import Glibc
#endif

/// `reload_on_change`: inotify on the directories the config came from —
/// the main file's, each included file's, each include pattern's. Watching
/// directories, not files, catches an editor's rename-over and a
/// Kubernetes ConfigMap update, which swaps the `..data` symlink in the
/// mounted directory. Events are debounced: the reload comes once the
/// directory has been quiet a moment. Owned by the main thread, which polls `fd`.
final class ConfigWatcher {
    let fd: Int32
    private(set) var directories: [String] = []
    /// When the last change was seen (monotonic ms), if a reload is due.
    private(set) var changedAt: UInt64?
    static let quietMilliseconds: UInt64 = 300

    init?() {
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        if fd < 0 { return nil }
    }

    deinit { close(fd) }

    /// Watches exactly `wanted` (a reload may change which directories matter).
    func watch(_ wanted: [String]) -> [String] {
        // inotify has no "remove all": a fresh watch set replaces the old by closing nothing,
        // but re-adding is idempotent and returns the same descriptor for the same directory.
        var missing: [String] = []
        for directory in wanted {
            let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB)
            if inotify_add_watch(fd, directory, mask) < 0 { missing.append(directory) }
        }
        directories = wanted
        return missing
    }

    /// `fd` is readable: drain the events and start the quiet period.
    func readEvents(now: UInt64) {
        var buffer = [UInt8](repeating: 0, count: 8192)
        var sawAny = false
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            sawAny = true
        }
        if sawAny { changedAt = now }
    }

    /// How long until the debounced reload is due (ms), if one is pending.
    func millisecondsUntilDue(now: UInt64) -> UInt64? {
        guard let changedAt else { return nil }
        let due = changedAt + Self.quietMilliseconds
        return due > now ? due - now : 0
    }

    /// Takes the pending reload, if its quiet period is over.
    func takeDue(now: UInt64) -> Bool {
        guard let changedAt, now >= changedAt + Self.quietMilliseconds else { return false }
        self.changedAt = nil
        return true
    }
}
