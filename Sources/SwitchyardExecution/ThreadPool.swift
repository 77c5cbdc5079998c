#if canImport(Glibc)
import Glibc
#endif
import CSwitchyardLinux
import Synchronization
import SwitchyardEventLoop

/// Work a pool thread runs. A class, so queueing one allocates nothing more.
public protocol PoolJob: AnyObject, Sendable {
    /// Runs on a pool thread. The job hands its own result back (to its loop's inbox).
    func run()
}

/// A fixed set of named threads (`sy-pool-NAME-N`) taking jobs from one
/// bounded queue — NIOThreadPool's shape: one lock, one condition. A loop
/// submits what a turn produced in one batch. Threads are woken one at a
/// time (Go's "spinning" rule): a batch wakes one idle thread, and a thread
/// that takes a job while more wait wakes the next — unless one is already
/// on its way. Short jobs are then drained by the threads already awake, at
/// one wake-up per batch, while jobs that block still fan out over as many
/// threads as they need. A full queue refuses at once: the caller answers
/// 503 rather than let a request wait without bound.
///
/// One pool per bulkhead: a slow dependency behind one pool cannot take
/// the threads of another.
public final class ThreadPool: @unchecked Sendable {
    /// How much pool threads yield to the event loops (nice, with SCHED_BATCH).
    static let niceness: Int32 = 5
    public let name: String
    public let threadCount: Int
    public let queueLimit: Int

    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    // Guarded by `mutex`: a ring of queued jobs, the idle-thread count, stop.
    private var ring: [(any PoolJob)?]
    private var head = 0
    private var count = 0
    private var idle = 0
    /// Threads signalled and not yet running: while one is, no other is woken.
    private var waking = 0
    private var stopping = false
    /// Jobs waiting, for callers deciding on 503 before they submit.
    private let queued = Atomic<Int>(0)
    /// Threads running a job right now.
    private let busy = Atomic<Int>(0)

    public init(name: String, threads: Int, queueLimit: Int) {
        self.name = name
        self.threadCount = max(1, threads)
        self.queueLimit = max(1, queueLimit)
        ring = Array(repeating: nil, count: self.queueLimit)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    /// The OS name of thread `index`: `sy-pool-NAME-N`, the name shortened
    /// so the whole fits Linux's 15 characters with the index kept.
    public static func threadName(pool: String, index: Int) -> String {
        let suffix = "-\(index)"
        let room = 15 - "sy-pool-".count - suffix.count
        return "sy-pool-" + String(pool.prefix(max(0, room))) + suffix
    }

    /// Starts the threads (detached: a thread stuck in a handler never holds
    /// up the daemon's exit).
    public func start() throws(SystemError) {
        for index in 0..<threadCount {
            let context = Unmanaged.passRetained(ThreadStart(pool: self, name: Self.threadName(pool: name, index: index)))
            var thread = pthread_t()
            var attributes = pthread_attr_t()
            pthread_attr_init(&attributes)
            pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
            let result = pthread_create(&thread, &attributes, { raw in
                let start = Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue()
                _ = cswitchyard_set_thread_name(start.name)
                // Below the loops, so health checks stay fast while pool threads compute.
                _ = cswitchyard_lower_priority(ThreadPool.niceness)
                start.pool.work()
                return nil
            }, context.toOpaque())
            pthread_attr_destroy(&attributes)
            if result != 0 {
                context.release()
                throw SystemError("pthread_create (thread pool \(name))", errno: result)
            }
        }
    }

    private final class ThreadStart {
        let pool: ThreadPool
        let name: String
        init(pool: ThreadPool, name: String) { self.pool = pool; self.name = name }
    }

    /// Jobs queued and not yet taken. Any thread; a hint, exact only under the lock.
    public var queuedCount: Int { queued.load(ordering: .relaxed) }
    /// Threads running a job.
    public var busyCount: Int { busy.load(ordering: .relaxed) }

    /// Queues as many of `jobs` as fit and removes them from the array; what
    /// is left did not fit (the caller answers those 503). One lock for the
    /// batch, one signal per job up to the idle threads.
    public func submit(_ jobs: inout [any PoolJob]) {
        guard !jobs.isEmpty else { return }
        pthread_mutex_lock(&mutex)
        var taken = 0
        while taken < jobs.count, count < queueLimit {
            ring[(head + count) % queueLimit] = jobs[taken]
            count += 1
            taken += 1
        }
        queued.store(count, ordering: .relaxed)
        wakeOneIfNeeded()
        pthread_mutex_unlock(&mutex)
        jobs.removeFirst(taken)
    }

    /// Asks every thread to end once the queue is empty. Does not wait.
    public func stop() {
        pthread_mutex_lock(&mutex)
        stopping = true
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
    }

    private func work() {
        while let job = next() {
            busy.add(1, ordering: .relaxed)
            job.run()
            busy.subtract(1, ordering: .relaxed)
        }
    }

    private func next() -> (any PoolJob)? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while count == 0 {
            if stopping { return nil }
            idle += 1
            pthread_cond_wait(&condition, &mutex)
            idle -= 1
            if waking > 0 { waking -= 1 }
        }
        let job = ring[head]
        ring[head] = nil
        head = (head + 1) % queueLimit
        count -= 1
        queued.store(count, ordering: .relaxed)
        wakeOneIfNeeded()
        return job
    }

    /// Under the lock: jobs wait, a thread sleeps, and none is already waking.
    private func wakeOneIfNeeded() {
        guard count > 0, idle > waking, waking == 0 else { return }
        waking += 1
        pthread_cond_signal(&condition)
    }
}
