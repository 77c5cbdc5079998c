#if canImport(Glibc)
import Glibc
#endif
import CSwitchyardLinux
import Logging
import Synchronization
import SwitchyardConfig
import SwitchyardEventLoop
import SwitchyardExecution
import SwitchyardPlugins
import SwitchyardSystemd

/// The daemon: binds listeners, runs one `HTTPLoop` per event-loop thread
/// (`sy-loop-N`), and on the main thread takes signals through a signalfd,
/// so no work happens in signal context.
public final class Server {
    /// Why the server could not start; `serve` prints it and exits non-zero.
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    private let config: Config
    private let logger: Logger
    private let notifier = SystemdNotifier()

    public init(config: Config, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Serves until SIGTERM or SIGINT, then drains. Returns the exit status.
    public func run() throws(StartError) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        // Bodies and answers of 128 KiB or more live in their own mappings,
        // so memory held for them returns to the system when they go.
        _ = cswitchyard_mmap_blocks_from(128 * 1024)
        let signalFD = try blockSignalsIntoFD()
        defer { close(signalFD) }
        raiseDescriptorLimit()

        var listeners: [Listener] = []
        for address in config.listen {
            do {
                listeners.append(try Listener.bind(address))
            } catch {
                listeners.forEach { $0.close() }
                notifier.notify("ERRNO=\(error.errno)")
                throw StartError(description: "cannot listen on \(address): \(error)")
            }
        }
        defer { listeners.forEach { $0.close() } }

        let shared = ServerShared(listeners: listeners, limits: config.limits)
        let threadPools = try startThreadPools()
        defer { threadPools.values.forEach { $0.stop() } }
        let routes = CompiledRoutes(config: config, status: shared, threadPool: { threadPools[$0 ?? ""] })
        var loops: [EventLoop] = []
        var httpLoops: [HTTPLoop] = []
        for i in 0..<config.eventLoops {
            let loop: EventLoop
            let inbox: LoopInbox<LoopMessage>
            do {
                loop = try EventLoop(index: i, name: "sy-loop-\(i)")
                inbox = try LoopInbox()
            } catch {
                throw StartError(description: "cannot create event loop \(i): \(error)")
            }
            guard let http = HTTPLoop(loop: loop, shared: shared, routes: routes, inbox: inbox, logger: logger) else {
                throw StartError(description: "cannot create event loop \(i): out of memory for its zlib streams")
            }
            loops.append(loop)
            httpLoops.append(http)
        }
        shared.loops = loops
        let workers = makeProcessPool(loop: loops[0])
        if let workers {
            workers.delegate = httpLoops[0]
            httpLoops[0].processPool = workers
            shared.workerLoopInbox = httpLoops[0].inbox
        }

        let running = SharedCounter(config.eventLoops)
        var threads: [pthread_t] = []
        for (loop, http) in zip(loops, httpLoops) {
            let result = LoopThread(loop: loop, http: http, running: running).start()
            switch result {
            case .success(let thread):
                threads.append(thread)
            case .failure(let error):
                for started in loops.prefix(threads.count) { started.stop() }
                for thread in threads { pthread_join(thread, nil) }
                throw StartError(description: "cannot start event loop thread \(loop.name): \(error)")
            }
        }
        if let workers {
            // READY=1 only once every worker has started and answered its setup.
            let deadline = MonotonicClock.nowMilliseconds() + Self.workerStartMilliseconds
            while workers.readyCount.load(ordering: .relaxed) < workers.settings.size {
                if MonotonicClock.nowMilliseconds() > deadline {
                    for loop in loops { loop.stop() }
                    for thread in threads { pthread_join(thread, nil) }
                    throw StartError(description: "worker processes did not start within \(Self.workerStartMilliseconds / 1000) s "
                                     + "(\(workers.readyCount.load(ordering: .relaxed)) of \(workers.settings.size) ready); see the log above")
                }
                usleep(2000)
            }
            logger.info("\(workers.settings.size) worker processes ready")
        }

        for listener in listeners { logger.info("listening on \(listener.boundDescription)") }
        logger.info("serving \(config.routes.count) routes on \(config.eventLoops) event loop(s)")
        shared.setPhase(.serving)
        notifier.ready(status: "serving \(config.routes.count) routes on \(listeners.map(\.boundDescription).joined(separator: ", "))")

        var draining = false
        while running.value.load(ordering: .acquiring) > 0 {
            var pfd = pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, draining ? 50 : -1) > 0 else { continue }
            var info = signalfd_siginfo()
            guard read(signalFD, &info, MemoryLayout<signalfd_siginfo>.size) == MemoryLayout<signalfd_siginfo>.size else { continue }
            let signal = Int32(info.ssi_signo)
            switch signal {
            case SIGTERM, SIGINT:
                if draining {
                    logger.warning("second stop signal: exiting at once")
                    return 1
                }
                draining = true
                logger.info("signal \(signal): draining (up to \(config.limits.shutdownTimeoutMs) ms)")
                shared.setPhase(.draining)
                notifier.stopping(status: "draining connections")
                // Stop listening now, so new clients are refused at once rather than
                // left in a backlog nobody accepts; the descriptors stay open until exit.
                for listener in listeners { shutdown(listener.fd, Int32(SHUT_RDWR)) }
                for (loop, http) in zip(loops, httpLoops) {
                    loop.execute { http.beginDrain() }
                }
            case SIGHUP:
                logger.warning("SIGHUP: reloading is not supported yet; the current config keeps serving")
            default:
                break
            }
        }
        for thread in threads { pthread_join(thread, nil) }
        logger.info("stopped")
        return 0
    }

    static let workerStartMilliseconds: UInt64 = 30_000

    /// A thread pool for each one a thread-mode route uses: `thread_pool`
    /// (keyed "") and the `thread_pools` routes name. Unused pools start no threads.
    private func startThreadPools() throws(StartError) -> [String: ThreadPool] {
        var pools: [String: ThreadPool] = [:]
        for route in config.routes where route.effectiveMode == .thread {
            let key = route.pool ?? ""
            guard pools[key] == nil else { continue }
            let settings = route.pool.flatMap { config.threadPools[$0] } ?? config.threadPool
            let pool = ThreadPool(name: route.pool ?? "default", threads: settings.size ?? ConfigLoader.onlineProcessorCount,
                                  queueLimit: settings.queue)
            do {
                try pool.start()
            } catch {
                pools.values.forEach { $0.stop() }
                throw StartError(description: "cannot start thread pool \(pool.name): \(error)")
            }
            pools[key] = pool
        }
        return pools
    }

    /// The worker processes, when a route runs in one. Started by loop 0.
    private func makeProcessPool(loop: EventLoop) -> ProcessPool? {
        let routes = config.routes.enumerated().filter { $0.element.effectiveMode == .process }
        guard !routes.isEmpty else { return nil }
        let setup = WorkerSetup.encode(routes.map { index, route in
            WorkerSetup.Route(index: index, handler: route.handler, parameterNames: route.pattern.parameterNames, options: route.options)
        })
        let settings = ProcessPool.Settings(
            size: config.processPool.size ?? ConfigLoader.onlineProcessorCount, queueLimit: config.processPool.queue,
            maxJobs: config.processPool.maxJobs, executable: "/proc/self/exe",
            arguments: ["switchyard", "worker", "--parent", "\(getpid())"], setup: setup)
        return ProcessPool(settings: settings, loop: loop, kinds: HTTPLoop.workerKinds, logger: logger)
    }

    private func blockSignalsIntoFD() throws(StartError) -> Int32 {
        var signals: [Int32] = [SIGTERM, SIGINT, SIGHUP]
        var set = sigset_t()
        guard cswitchyard_block_signals(&signals, Int32(signals.count), &set) == 0 else {
            throw StartError(description: "cannot block signals: \(SystemError("pthread_sigmask", errno: errno))")
        }
        let fd = signalfd(-1, &set, Int32(SFD_CLOEXEC))
        guard fd >= 0 else { throw StartError(description: "\(SystemError("signalfd", errno: errno))") }
        return fd
    }

    /// Each connection is a descriptor: take the hard limit, as nginx's
    /// worker_rlimit_nofile would.
    private func raiseDescriptorLimit() {
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
    }
}

/// A count shared between the main thread and the loop threads.
final class SharedCounter: Sendable {
    let value: Atomic<Int>
    init(_ initial: Int) { value = Atomic(initial) }
}

/// Starts a named thread that runs one loop until it stops.
private final class LoopThread: @unchecked Sendable {
    let loop: EventLoop
    let http: HTTPLoop
    let running: SharedCounter

    init(loop: EventLoop, http: HTTPLoop, running: SharedCounter) {
        self.loop = loop
        self.http = http
        self.running = running
    }

    func start() -> Result<pthread_t, SystemError> {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self)
        let result = pthread_create(&thread, nil, { context in
            let me = Unmanaged<LoopThread>.fromOpaque(context!).takeRetainedValue()
            me.main()
            return nil
        }, context.toOpaque())
        guard result == 0 else {
            context.release()
            return .failure(SystemError("pthread_create", errno: result))
        }
        return .success(thread)
    }

    private func main() {
        _ = cswitchyard_set_thread_name(loop.name)
        loop.bindToCurrentThread()
        http.start()
        loop.run(http)
        http.finish()
        running.value.subtract(1, ordering: .releasing)
    }
}
