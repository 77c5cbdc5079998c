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
    /// The turn's events, timers and jobs are done: work gathered during the
    /// turn (hand-offs to pools, say) goes out now, once per turn.
    func endOfTurn(loop: EventLoop)
}

extension EventLoopHandler {
    public func endOfTurn(loop: EventLoop) {}
}

/// One epoll loop on one thread: I/O readiness, timers, work handed in from
/// other threads through an eventfd, and — as a Swift concurrency executor —
/// the jobs of tasks that prefer it, so an `await` on the loop waits without
/// blocking it.
///
/// Everything but `execute`, `stop` and `enqueue` must be called on the
/// loop's thread (`assertInLoop` checks it in debug builds).
public final class EventLoop: @unchecked Sendable {
    public let index: Int
    public let name: String
    public let selector: SelectorEpoll
    private let wakeupFD: Int32
    private let closures = Mutex<[@Sendable () -> Void]>([])
    // Only the first cross-thread submission after the loop drained its inputs writes the eventfd.
    private let wakeupArmed = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)
    /// The thread running `run`, or 0 before it starts.
    private let thread = Atomic<UInt>(0)
    private var timers = TimerHeap()

    /// Executor jobs enqueued from the loop's own thread (no lock) and from
    /// others; each runs exactly once, in the job phase of a turn.
    private var localJobs: [UnownedJob] = []
    private var runningJobs: [UnownedJob] = []
    private let remoteJobs = Mutex<[UnownedJob]>([])
    /// Set when `remoteJobs` may hold jobs, so a turn takes the lock only then.
    private let hasRemoteJobs = Atomic<Bool>(false)
    var waiters = WaiterTable()

    /// Monotonic milliseconds, read once per turn.
    public private(set) var now: UInt64
    /// When the loop last finished a turn, for health checks from other threads.
    public let lastTurnMilliseconds = Atomic<UInt64>(0)

    /// Event and timer kinds from 0xF0 up belong to the loop itself; handlers use the rest.
    static let wakeupKind: UInt8 = 0xFF
    static let waiterKind: UInt8 = 0xFE
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

    // MARK: Threads

    /// Whether the caller runs on this loop's thread.
    @inline(__always) public var inLoop: Bool {
        pthread_equal(pthread_t(thread.load(ordering: .relaxed)), pthread_self()) != 0
    }

    /// Makes the calling thread the loop's: call it first on the thread that
    /// will `run` the loop, before any loop-only work.
    public func bindToCurrentThread() {
        thread.store(UInt(pthread_self()), ordering: .releasing)
    }

    /// Traps in debug builds when called off the loop's thread; free in release.
    @inline(__always) public func assertInLoop(file: StaticString = #fileID, line: UInt = #line) {
        assert(inLoop, "\(name): loop-only code called from another thread", file: file, line: line)
    }

    /// Runs `job` on the loop's thread soon. Callable from any thread.
    public func execute(_ job: @escaping @Sendable () -> Void) {
        closures.withLock { $0.append(job) }
        wake()
    }

    /// Asks the loop to return from `run` after its current turn. Any thread.
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        wake()
    }

    /// Writes the eventfd unless a wake-up is already pending. Any thread.
    func wake() {
        if !wakeupArmed.exchange(true, ordering: .acquiringAndReleasing) {
            var one: UInt64 = 1
            _ = write(wakeupFD, &one, 8)
        }
    }

    // MARK: Timers

    /// Calls `handler.handleTimer(tag:)` on the first turn at or after
    /// `deadline` (monotonic ms). Tags whose top byte is 0xF0 or more are the
    /// loop's own. A timer is not cancelled: its owner ignores one that no
    /// longer applies (the tag carries a generation to tell).
    public func scheduleTimer(at deadline: UInt64, tag: UInt64) {
        assertInLoop()
        timers.insert(deadline: deadline, tag: tag)
    }

    // MARK: Running

    /// Turns until `stop`: wait for events (no longer than the nearest timer),
    /// dispatch them, fire due timers, run jobs handed in by other threads and
    /// executor jobs, then let the handler end the turn.
    public func run(_ handler: EventLoopHandler) {
        bindToCurrentThread()
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: Int(Self.eventCapacity))
        defer { events.deallocate() }
        while !stopRequested.load(ordering: .acquiring) {
            var timeout: Int32 = -1
            if !localJobs.isEmpty {
                timeout = 0
            } else if let deadline = timers.nearestDeadline {
                timeout = deadline <= now ? 0 : Int32(clamping: deadline - now)
            }
            let count = selector.wait(into: events, capacity: Self.eventCapacity, timeoutMs: timeout)
            now = MonotonicClock.nowMilliseconds()
            var sawWakeup = false
            for i in 0..<count {
                let tag = EventTag(raw: events[i].data.u64)
                switch tag.kind {
                case Self.wakeupKind: sawWakeup = true
                case Self.waiterKind: waiterReady(tag)
                default: handler.handleEvent(tag: tag, events: events[i].events, loop: self)
                }
            }
            while let due = timers.popDue(now: now) {
                if EventTag(raw: due.tag).kind == Self.waiterKind {
                    waiterReady(EventTag(raw: due.tag))
                } else {
                    handler.handleTimer(tag: due.tag, loop: self)
                }
            }
            if sawWakeup { runHandedIn() }
            runExecutorJobs()
            handler.endOfTurn(loop: self)
            lastTurnMilliseconds.store(now, ordering: .relaxed)
        }
        // Every job handed in runs exactly once, shutdown included: keep
        // going until none is left (a job may enqueue another).
        repeat {
            runHandedIn()
            runExecutorJobs()
        } while !localJobs.isEmpty || !remoteJobs.withLock({ $0.isEmpty }) || !closures.withLock({ $0.isEmpty })
        handler.endOfTurn(loop: self)
    }

    private func runHandedIn() {
        var drained: UInt64 = 0
        _ = read(wakeupFD, &drained, 8)
        wakeupArmed.store(false, ordering: .releasing)
        let batch = closures.withLock { pending -> [@Sendable () -> Void] in
            let taken = pending
            pending.removeAll(keepingCapacity: true)
            return taken
        }
        for job in batch { job() }
    }

    /// Runs the executor jobs queued before this call; jobs they enqueue run
    /// next turn, so a task that keeps yielding cannot starve I/O.
    @inline(__always)
    private func runExecutorJobs() {
        // A plain load first: the exchange is a locked instruction, and most turns have no remote job.
        if hasRemoteJobs.load(ordering: .relaxed), hasRemoteJobs.exchange(false, ordering: .acquiringAndReleasing) {
            remoteJobs.withLock { remote in
                localJobs.append(contentsOf: remote)
                remote.removeAll(keepingCapacity: true)
            }
        }
        guard !localJobs.isEmpty else { return }
        swap(&localJobs, &runningJobs)
        let serial = asUnownedSerialExecutor(), task = asUnownedTaskExecutor()
        for job in runningJobs {
            job.runSynchronously(isolatedTo: serial, taskExecutor: task)
        }
        runningJobs.removeAll(keepingCapacity: true)
    }
}

// MARK: Executor

extension EventLoop: SerialExecutor, TaskExecutor {
    /// Queues a job of a task that runs on this loop. Any thread; from the
    /// loop's own thread it takes no lock and writes no eventfd.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if inLoop {
            localJobs.append(job)
        } else {
            remoteJobs.withLock { $0.append(job) }
            hasRemoteJobs.store(true, ordering: .releasing)
            wake()
        }
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }

    public func checkIsolated() {
        precondition(inLoop, "\(name): expected to run on this event loop")
    }
}
