#if canImport(Glibc)
import Glibc
#endif
import CSwitchyardLinux
import Synchronization

/// Items handed to one loop from other threads — finished jobs from a pool,
/// say — with an eventfd the loop watches. Only the first item after the
/// loop took the last batch writes the eventfd, so a burst costs one
/// wake-up, and the loop takes the whole batch with one lock.
public final class LoopInbox<Element: Sendable>: Sendable {
    /// Register this with the loop's selector for `.read`.
    public let fd: Int32
    private let items = Mutex<[Element]>([])

    public init() throws(SystemError) {
        fd = try checkedSyscall("eventfd") { eventfd(0, cswitchyard_EFD_NONBLOCK() | cswitchyard_EFD_CLOEXEC()) }
    }

    deinit { close(fd) }

    /// Hands `item` to the loop. Any thread.
    public func post(_ item: Element) {
        let wasEmpty = items.withLock { queue in
            let wasEmpty = queue.isEmpty
            queue.append(item)
            return wasEmpty
        }
        if wasEmpty {
            var one: UInt64 = 1
            _ = write(fd, &one, 8)
        }
    }

    /// Moves every item posted so far into `batch` (which should be empty;
    /// its storage is swapped in, so a steady stream allocates nothing).
    /// On the loop's thread, when `fd` is readable.
    public func take(into batch: inout [Element]) {
        var drained: UInt64 = 0
        _ = read(fd, &drained, 8)
        items.withLock { swap(&$0, &batch) }
    }
}
