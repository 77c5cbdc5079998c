#if canImport(Glibc)
import Glibc
#endif
import CSwitchyardLinux
import Synchronization

/// What an event loop calls back into; implemented by the server, one per loop.
public protocol EventLoopHandler: AnyObject {
    /// Readiness for a registration the handler made, with the tag it chose.
    func handleEvent(tag: EventTag, events: UInt32, loop: EventLoop)
    /// A timer scheduled with `scheduleTimer` is due.
    func handleTimer(tag: UInt64, loop: EventLoop)
}

/// One epoll loop on one thread: I/O readiness, timers and work handed in
/// from other threads through an eventfd.
///
/// Everything but `execute` and `stop` must be called on the loop's thread.
public final class EventLoop: @unchecked Sendable {
    public let index: Int
    public let name: String
    public let selector: SelectorEpoll
    private let wakeupFD: Int32
    private let jobs = Mutex<[@Sendable () -> Void]>([])
    // Only the first `execute` after the loop drained its jobs writes the eventfd.
    private let wakeupArmed = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)
    private var timers = TimerHeap()

    /// Monotonic milliseconds, read once per turn.
    public private(set) var now: UInt64
    /// When the loop last finished a turn, for health checks from other threads.
    public let lastTurnMilliseconds = Atomic<UInt64>(0)

    static let wakeupKind: UInt8 = 0xFF
    static let eventCapacity: Int32 = 256

    public init(index: Int, name: String) throws(SystemError) {
        self.index = index
        self.name = name
        self.selector = try SelectorEpoll()
        self.wakeupFD = try checkedSyscall("eventfd") { eventfd(0, cswitchyard_EFD_NONBLOCK() | cswitchyard_EFD_CLOEXEC()) }
        self.now = MonotonicClock.nowMilliseconds()
        lastTurnMilliseconds.store(now, ordering: .relaxed)
        try selector.add(wakeupFD, tag: EventTag(kind: Self.wakeupKind, slot: 0, generation: 0).raw, interest: .read)
    }

    deinit { close(wakeupFD) }

    /// Runs `job` on the loop's thread soon. Callable from any thread.
    public func execute(_ job: @escaping @Sendable () -> Void) {
        jobs.withLock { $0.append(job) }
        if !wakeupArmed.exchange(true, ordering: .acquiringAndReleasing) {
            var one: UInt64 = 1
            _ = write(wakeupFD, &one, 8)
        }
    }

    /// Asks the loop to return from `run` after its current turn. Any thread.
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        execute {}
    }

    /// Calls `handler.handleTimer(tag:)` on the first turn at or after `deadline` (monotonic ms).
    public func scheduleTimer(at deadline: UInt64, tag: UInt64) {
        timers.insert(deadline: deadline, tag: tag)
    }

    /// Turns until `stop`: wait for events (no longer than the nearest timer),
    /// dispatch them, fire due timers, run jobs handed in by other threads.
    public func run(_ handler: EventLoopHandler) {
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: Int(Self.eventCapacity))
        defer { events.deallocate() }
        while !stopRequested.load(ordering: .acquiring) {
            var timeout: Int32 = -1
            if let deadline = timers.nearestDeadline {
                timeout = deadline <= now ? 0 : Int32(clamping: deadline - now)
            }
            let count = selector.wait(into: events, capacity: Self.eventCapacity, timeoutMs: timeout)
            now = MonotonicClock.nowMilliseconds()
            var sawWakeup = false
            for i in 0..<count {
                let tag = EventTag(raw: events[i].data.u64)
                if tag.kind == Self.wakeupKind {
                    sawWakeup = true
                } else {
                    handler.handleEvent(tag: tag, events: events[i].events, loop: self)
                }
            }
            while let due = timers.popDue(now: now) {
                handler.handleTimer(tag: due.tag, loop: self)
            }
            if sawWakeup { runJobs() }
            lastTurnMilliseconds.store(now, ordering: .relaxed)
        }
        runJobs()   // every job handed in runs exactly once, shutdown included
    }

    private func runJobs() {
        var drained: UInt64 = 0
        _ = read(wakeupFD, &drained, 8)
        wakeupArmed.store(false, ordering: .releasing)
        let batch = jobs.withLock { pending -> [@Sendable () -> Void] in
            let taken = pending
            pending.removeAll(keepingCapacity: true)
            return taken
        }
        for job in batch { job() }
    }
}
