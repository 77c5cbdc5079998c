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

/// The daemon: runs one `HTTPLoop` per event-loop thread (`sy-loop-N`) and,
/// on the main thread, everything that is not a request — signals (through a
/// signalfd, so no work happens in signal context), the control socket,
/// config-file changes, reloads, the watchdog's stall report, the drain.
///
/// A reload builds the next `Generation` whole on this thread — config,
/// listeners, pools, routes, worker processes — and only then hands it to the
/// loops; if anything fails, nothing changes but the log, `STATUS=` and the
/// answer to `switchyard reload`.
public final class Server {
    /// Why the server could not start; `serve` logs it and exits non-zero.
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
        /// For systemd's `ERRNO=`.
        public var errno: Int32
    }

    private let source: ConfigSource
    private let loader: ConfigLoader
    private let logger: Logger
    private let logLevel: SharedLogLevel
    private let notifier = SystemdNotifier()
    private let environment: [String: String]

    private let initialConfig: Config
    /// The generation the loops serve (or are taking up).
    private var generation: Generation!
    private var shared: ServerShared!
    private var loops: [EventLoop] = []
    private var httpLoops: [HTTPLoop] = []
    private var nextListenerID = 1
    private var nextWorkerPoolID = 1
    /// Sockets systemd passed: used instead of binding, kept across reloads.
    private var activated: [Listener] = []
    private var lastReload: (time: String, outcome: String)?
    private var control: ControlSocket?
    private var watcher: ConfigWatcher?
    /// Loops reported as stalled, so each stall is logged once.
    private var reportedStalls: Set<Int> = []

    /// - Parameters:
    ///   - config: the config, loaded and checked (by `serve`, which reports its errors).
    ///   - source: where it came from: a reload reads the same place.
    ///   - logLevel: the level every logger reads; `log_level:` sets it unless
    ///     `SWITCHYARD_LOG_LEVEL` did.
    public init(config: Config, source: ConfigSource, loader: ConfigLoader, logger: Logger, logLevel: SharedLogLevel,
                environment: [String: String]) {
        self.source = source
        self.loader = loader
        self.logger = logger
        self.logLevel = logLevel
        self.environment = environment
        self.initialConfig = config
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
        let config = initialConfig

        for passed in SocketActivation.take() {
            activated.append(Listener.activated(fd: passed.fd, name: passed.name, id: nextListenerID))
            nextListenerID += 1
        }
        if !activated.isEmpty, !config.listen.isEmpty {
            logger.info("socket activation: serving on the \(activated.count) socket\(activated.count == 1 ? "" : "s") systemd passed; listen: in the config is not used")
        }

        // Before any listener: a start that fails here (another daemon's
        // socket) must not have accepted, and then reset, a client.
        let controlPath = config.control ?? ControlSocket.defaultPath(environment: environment)
        let controlSocket: ControlSocket
        do {
            controlSocket = try ControlSocket(path: controlPath)
        } catch {
            throw StartError(description: "cannot open the control socket \(controlPath): \(error); set control: to a writable path",
                             errno: error.errno)
        }

        let watchdog = SystemdNotifier.watchdogMicroseconds().map { Watchdog(watchdogMicroseconds: $0) }
        shared = ServerShared(loopCount: config.eventLoops, watchdog: watchdog)
        var inboxes: [LoopInbox<LoopMessage>] = []
        for i in 0..<config.eventLoops {
            do {
                loops.append(try EventLoop(index: i, name: "sy-loop-\(i)"))
                inboxes.append(try LoopInbox())
            } catch {
                throw StartError(description: "cannot create event loop \(i): \(error)", errno: error.errno)
            }
        }
        shared.loops = loops
        shared.workerLoopInbox = inboxes[0]

        // Only `generation` holds the first generation, so a reload can let it go.
        switch build(config, number: 1, previous: nil) {
        case .success(let built): generation = built
        case .failure(let failure): throw StartError(description: failure.message, errno: failure.errno)
        }
        defer { closeListeners(generation.listeners) }
        publishStatus()
        for (loop, inbox) in zip(loops, inboxes) {
            guard let http = HTTPLoop(loop: loop, shared: shared, generation: generation, inbox: inbox, logger: logger) else {
                throw StartError(description: "cannot create event loop \(loop.index): out of memory for its zlib streams", errno: ENOMEM)
            }
            httpLoops.append(http)
        }

        let running = SharedCounter(config.eventLoops)
        var threads: [pthread_t] = []
        for (loop, http) in zip(loops, httpLoops) {
            switch LoopThread(loop: loop, http: http, running: running).start() {
            case .success(let thread):
                threads.append(thread)
            case .failure(let error):
                for started in loops.prefix(threads.count) { started.stop() }
                for thread in threads { pthread_join(thread, nil) }
                throw StartError(description: "cannot start event loop thread \(loop.name): \(error)", errno: error.errno)
            }
        }
        if let workers = generation.workers {
            // READY=1 only once every worker has started and answered its setup.
            guard waitForWorkers(workers.pool, signalFD: signalFD) else {
                for loop in loops { loop.stop() }
                for thread in threads { pthread_join(thread, nil) }
                throw StartError(description: "worker processes did not start within \(Self.workerStartMilliseconds / 1000) s "
                                 + "(\(workers.pool.readyCount.load(ordering: .relaxed)) of \(workers.pool.settings.size) ready); see the log above",
                                 errno: ETIMEDOUT)
            }
            logger.info("\(workers.pool.settings.size) worker processes ready")
        }

        control = controlSocket
        updateWatcher(for: config)

        // Serving before it says so: a client that acts on "listening on" finds /readyz ready.
        shared.setPhase(.serving)
        for listener in generation.listeners { logger.info("listening on \(listener.boundDescription)") }
        logger.info("serving \(Plural.count(config.routes.count, "route")) on \(Plural.count(config.eventLoops, "event loop")); control socket \(controlPath)")
        if let watchdog { logger.info("watchdog: pinging every \(watchdog.intervalMilliseconds) ms while every loop turns") }
        publishStatus()
        notifier.ready(status: statusLine)
        shared.watchdog?.start()

        let status = serveUntilStopped(signalFD: signalFD, running: running)
        control = nil
        watcher = nil
        if status == 0 {
            for thread in threads { pthread_join(thread, nil) }
            logger.info("stopped")
        }
        return status
    }

    // MARK: The main thread's loop

    /// Signals, control clients, file changes, reloads and stall reports until
    /// the loops have drained. Returns the exit status.
    private func serveUntilStopped(signalFD: Int32, running: SharedCounter) -> Int32 {
        var draining = false
        var reloadAsked = false
        while running.value.load(ordering: .acquiring) > 0 {
            let now = MonotonicClock.nowMilliseconds()
            var timeout: UInt64 = draining ? 50 : 1000
            if let due = watcher?.millisecondsUntilDue(now: now) { timeout = min(timeout, due) }
            if control?.hasPartialClients == true { timeout = min(timeout, 50) }
            var fds = [pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)]
            if let control { fds.append(pollfd(fd: control.fd, events: Int16(POLLIN), revents: 0)) }
            if let watcher { fds.append(pollfd(fd: watcher.fd, events: Int16(POLLIN), revents: 0)) }
            _ = poll(&fds, nfds_t(fds.count), Int32(timeout))
            let after = MonotonicClock.nowMilliseconds()

            while let signal = takeSignal(signalFD) {
                switch signal {
                case SIGTERM, SIGINT:
                    if draining {
                        logger.warning("second \(Self.name(of: signal)): exiting at once")
                        return 1
                    }
                    draining = true
                    beginDrain(signal)
                case SIGHUP:
                    if draining { logger.notice("SIGHUP while draining: not reloading") } else { reloadAsked = true }
                default:
                    break
                }
            }
            if let control, control.serviceClients(now: after) {
                if draining { control.answerReloads("error the daemon is stopping") } else { reloadAsked = true }
            }
            if let watcher {
                watcher.readEvents(now: after)
                if watcher.takeDue(now: after), !draining { reloadIfChanged() }
            }
            if reloadAsked, !draining {
                reloadAsked = false
                let outcome = reload(signalFD: signalFD)
                control?.answerReloads(outcome)
            }
            reportStalledLoops(now: after)
        }
        return 0
    }

    private func takeSignal(_ signalFD: Int32) -> Int32? {
        var info = signalfd_siginfo()
        var pfd = pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 0) > 0,
              read(signalFD, &info, MemoryLayout<signalfd_siginfo>.size) == MemoryLayout<signalfd_siginfo>.size else { return nil }
        return Int32(info.ssi_signo)
    }

    private func beginDrain(_ signal: Int32) {
        logger.info("\(Self.name(of: signal)): draining (up to \(generation.limits.shutdownTimeoutMs) ms)")
        shared.setPhase(.draining)
        notifier.stopping(status: "draining connections")
        control = nil
        watcher = nil
        // Stop listening now, so new clients are refused at once rather than
        // left in a backlog nobody accepts; the descriptors stay open until
        // exit. Sockets systemd passed stay as they are: it keeps them for the
        // next start, and the loops just stop accepting on them.
        for listener in generation.listeners where listener.activationName == nil {
            shutdown(listener.fd, Int32(SHUT_RDWR))
        }
        for http in httpLoops {
            http.loop.execute { http.beginDrain() }
        }
    }

    static func name(of signal: Int32) -> String {
        switch signal {
        case SIGTERM: return "SIGTERM"
        case SIGINT: return "SIGINT"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(signal)"
        }
    }

    /// A loop that has not turned for a while is held by a handler: say
    /// which route, once per stall (the watchdog stops its pings meanwhile).
    private func reportStalledLoops(now: UInt64) {
        let limit: UInt64 = max(1000, (shared.watchdog?.intervalMilliseconds ?? 0))
        for (index, loop) in loops.enumerated() {
            let last = loop.lastTurnMilliseconds.load(ordering: .relaxed)
            guard now > last + limit else {
                reportedStalls.remove(index)
                continue
            }
            guard reportedStalls.insert(index).inserted else { continue }
            let running = shared.loopStates[index].runningRoute.load(ordering: .relaxed)
            var holder = "no handler is running (a turn of many requests?)"
            if running != 0 {
                let number = Int(running >> 32), routeIndex = Int(running & 0xFFFF_FFFF) - 1
                if number == generation.number, routeIndex < generation.config.routes.count {
                    let route = generation.config.routes[routeIndex]
                    holder = "route \(route.path) (\(route.handler), mode \(route.effectiveMode.rawValue)) holds it"
                } else {
                    holder = "a route of generation \(number) holds it"
                }
            }
            let pings = shared.watchdog == nil ? "" : "; watchdog pings paused"
            logger.warning("\(loop.name) has not turned for \(now - last) ms: \(holder)\(pings)")
        }
    }

    // MARK: Reload

    /// `reload_on_change`: a file changed. Reload only when the config's
    /// content did (an editor's swap file, a touch, change nothing).
    private func reloadIfChanged() {
        switch loadConfig() {
        case .success(let config) where config.contentHash == generation.config.contentHash:
            logger.debug("reload_on_change: the config's content is unchanged")
        case .success(let config):
            _ = reload(signalFD: -1, preloaded: config)
        case .failure:
            _ = reload(signalFD: -1)   // says why in the log and the status
        }
    }

    /// One reload, all or nothing. Returns the line `switchyard reload` prints.
    private func reload(signalFD: Int32, preloaded: Config? = nil) -> String {
        let started = MonotonicClock.nowMilliseconds()
        let number = generation.number + 1
        notifier.reloading(status: "reloading: generation \(number)")
        logger.info("reloading \(source.description) (generation \(number))")
        let loaded: Result<Config, Failure> = preloaded.map { .success($0) } ?? loadConfig()
        let built = loaded.flatMap { config -> Result<Generation, Failure> in
            for warning in config.warnings { logger.warning("\(warning)") }
            return build(config, number: number, previous: generation)
        }
        switch built {
        case .failure(let failure):
            lastReload = (Generation.clockTime(), "failed: \(failure.message)")
            logger.error("reload failed; generation \(generation.number) keeps serving: \(failure.message)")
            publishStatus()
            notifier.ready(status: statusLine)
            return "error \(failure.message)"
        case .success(let next):
            if let workers = next.workers, workers !== generation.workers {
                loops[0].execute { [loop0 = httpLoops[0]] in loop0.startWorkers(workers.pool) }
                guard waitForWorkers(workers.pool, signalFD: signalFD) else {
                    let home = httpLoops[0]
                    loops[0].execute { home.stopWorkersNow(workers.pool) }
                    let message = "the new worker processes did not start within \(Self.workerStartMilliseconds / 1000) s"
                    lastReload = (Generation.clockTime(), "failed: \(message)")
                    logger.error("reload failed; generation \(generation.number) keeps serving: \(message)")
                    closeListeners(next.listeners.filter { new in !generation.listeners.contains { $0.id == new.id } })
                    publishStatus()
                    notifier.ready(status: statusLine)
                    return "error \(message)"
                }
            }
            swap(to: next)
            let took = MonotonicClock.nowMilliseconds() - started
            lastReload = (Generation.clockTime(), "ok")
            logger.notice("reloaded: generation \(next.number), config \(next.config.contentHash): \(next.summary) (\(took) ms)")
            publishStatus()
            notifier.ready(status: statusLine)
            return "ok generation \(next.number), config \(next.config.contentHash): \(next.summary)"
        }
    }

    /// Every loop takes up `next` at its next turn; then listeners it
    /// dropped are closed (their connections go on until done).
    private func swap(to next: Generation) {
        let previous: Generation = generation
        generation = next
        for http in httpLoops { http.inbox.post(.adopt(next)) }
        let deadline = MonotonicClock.nowMilliseconds() + 10_000
        while shared.loopStates.contains(where: { $0.adopted.load(ordering: .acquiring) < next.number }),
              MonotonicClock.nowMilliseconds() < deadline {
            usleep(1000)
        }
        closeListeners(previous.listeners.filter { old in !next.listeners.contains { $0.id == old.id } })
        if let level = next.config.logLevel, JournalLogHandler.levelFromEnvironment() == nil {
            logLevel.value = Logger.Level(rawValue: level.rawValue) ?? logLevel.value
        }
        if next.config.eventLoops != previous.config.eventLoops {
            logger.warning("event_loops changed to \(next.config.eventLoops): that takes effect at the next start")
        }
        if next.config.control != previous.config.control {
            logger.warning("control changed: the control socket moves at the next start")
        }
        updateWatcher(for: next.config)
    }

    struct Failure: Error {
        var message: String
        var errno: Int32 = EINVAL
    }

    /// The config, read again from where it first came.
    private func loadConfig() -> Result<Config, Failure> {
        let config: Config
        do {
            switch source {
            case .file(let path): config = try loader.load(file: path)
            case .embeddedDefault: config = try loader.load(yaml: EmbeddedDefault.yaml, name: EmbeddedDefault.name, baseDirectory: nil)
            }
        } catch {
            return .failure(Failure(message: error.firstErrorAndCount))
        }
        return .success(config)
    }

    // MARK: Building a generation

    static let workerStartMilliseconds: UInt64 = 30_000

    /// Everything `config` decides, ready to serve: listeners (kept when the
    /// address stays, bound when it is new), thread pools (kept when their
    /// settings stay), routes, worker processes (kept when they would run the
    /// same handlers). Nothing is swapped in here; a failure undoes what it
    /// made and changes nothing.
    private func build(_ config: Config, number: Int, previous: Generation?) -> Result<Generation, Failure> {
        // First: nothing else is made yet when the file cannot be opened.
        let accessLog: AccessLogSink?
        do {
            accessLog = try AccessLogSink.open(config.accessLog)
        } catch {
            return .failure(Failure(message: error.description, errno: error.errno))
        }
        var listeners: [Listener] = []
        if !activated.isEmpty {
            listeners = activated
        } else {
            for address in config.listen {
                if let kept = previous?.listeners.first(where: { $0.address == address }) {
                    listeners.append(kept)
                    continue
                }
                do {
                    listeners.append(try Listener.bind(address).with(id: nextListenerID))
                    nextListenerID += 1
                } catch {
                    closeListeners(listeners.filter { new in !(previous?.listeners.contains { $0.id == new.id } ?? false) })
                    return .failure(Failure(message: "cannot listen on \(address): \(error)", errno: error.errno))
                }
            }
        }

        var pools: [String: PoolHandle] = [:]
        for route in config.routes where route.effectiveMode == .thread {
            let key = route.pool ?? ""
            guard pools[key] == nil else { continue }
            let settings = route.pool.flatMap { config.threadPools[$0] } ?? config.threadPool
            let size = settings.size ?? ConfigLoader.onlineProcessorCount
            if let kept = previous?.threadPools[key], kept.size == size, kept.queue == settings.queue {
                pools[key] = kept
                continue
            }
            let pool = ThreadPool(name: route.pool ?? "default", threads: size, queueLimit: settings.queue)
            do {
                try pool.start()
            } catch {
                for (name, handle) in pools where previous?.threadPools[name] !== handle { handle.pool.stop() }
                closeListeners(listeners.filter { new in !(previous?.listeners.contains { $0.id == new.id } ?? false) })
                return .failure(Failure(message: "cannot start thread pool \(pool.name): \(error)", errno: error.errno))
            }
            pools[key] = PoolHandle(pool: pool, size: size, queue: settings.queue)
        }

        // Worker processes build the handlers of the process-mode routes
        // from their setup: one entry per distinct handler and options.
        var setupRoutes: [WorkerSetup.Route] = []
        var workerIndex: [Int: Int] = [:]
        for (index, route) in config.routes.enumerated() where route.effectiveMode == .process {
            // A fixed answer (builtin.text) is rendered at load and written from the loop.
            if case .fixed = Builtins.makeHandler(for: route, status: shared) { continue }
            let entry = WorkerSetup.Route(index: setupRoutes.count, handler: route.handler,
                                          parameterNames: route.pattern.parameterNames, options: route.options)
            if let same = setupRoutes.first(where: { $0.sameHandler(as: entry) }) {
                workerIndex[index] = same.index
            } else {
                workerIndex[index] = entry.index
                setupRoutes.append(entry)
            }
        }
        var workers: WorkerPoolHandle?
        if !setupRoutes.isEmpty {
            let settings = ProcessPool.Settings(
                size: min(ProcessPool.maxWorkers, config.processPool.size ?? ConfigLoader.onlineProcessorCount),
                queueLimit: config.processPool.queue, maxJobs: config.processPool.maxJobs,
                executable: "/proc/self/exe", arguments: ["switchyard", "worker", "--parent", "\(getpid())"],
                setup: WorkerSetup.encode(setupRoutes))
            if let kept = previous?.workers, kept.pool.settings == settings {
                workers = kept
            } else {
                let pool = ProcessPool(id: nextWorkerPoolID, settings: settings, loop: loops[0],
                                       kinds: HTTPLoop.workerKinds, logger: logger)
                nextWorkerPoolID += 1
                workers = WorkerPoolHandle(pool: pool, home: httpLoopsInbox(0))
            }
        }

        let routes = CompiledRoutes(config: config, status: shared, threadPool: { pools[$0 ?? ""] },
                                    workerIndex: { workerIndex[$0] ?? 0 })
        return .success(Generation(number: number, config: config, routes: routes, listeners: listeners,
                                   threadPools: pools, workers: workers, accessLog: accessLog))
    }

    private func httpLoopsInbox(_ index: Int) -> LoopInbox<LoopMessage> {
        httpLoops.isEmpty ? shared.workerLoopInbox! : httpLoops[index].inbox
    }

    /// Waits for `pool`'s workers to be ready, watching for a stop signal
    /// meanwhile (it is left pending for the main loop).
    private func waitForWorkers(_ pool: ProcessPool, signalFD: Int32) -> Bool {
        let deadline = MonotonicClock.nowMilliseconds() + Self.workerStartMilliseconds
        while pool.readyCount.load(ordering: .relaxed) < pool.settings.size {
            if MonotonicClock.nowMilliseconds() > deadline { return false }
            if signalFD >= 0 {
                var pending = sigset_t()
                sigpending(&pending)
                if sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1 { return false }
            }
            usleep(2000)
        }
        return true
    }

    private func closeListeners(_ listeners: [Listener]) {
        for listener in listeners where listener.activationName == nil { listener.close() }
    }

    // MARK: Status

    /// `generation 3 (config 1a2b…): 12 routes on …; last reload 14:02:11 ok`.
    private var statusLine: String {
        var line = "generation \(generation.number) (config \(generation.config.contentHash)): \(generation.summary)"
        if let lastReload { line += "; last reload \(lastReload.time) \(lastReload.outcome)" }
        return line
    }

    private func publishStatus() {
        var lines = ["config: generation \(generation.number), \(generation.config.source), hash \(generation.config.contentHash), loaded \(generation.builtAt)"]
        lines.append(lastReload.map { "last reload: \($0.time) \($0.outcome)" } ?? "last reload: none")
        shared.setConfigDetails(lines)
    }

    private func updateWatcher(for config: Config) {
        guard config.reloadOnChange, !config.watchDirectories.isEmpty else {
            watcher = nil
            return
        }
        if watcher == nil { watcher = ConfigWatcher() }
        guard let watcher else {
            logger.warning("reload_on_change: inotify is not available (\(SystemError("inotify_init1", errno: errno))); reload with SIGHUP")
            return
        }
        let missing = watcher.watch(config.watchDirectories)
        if !missing.isEmpty { logger.warning("reload_on_change: cannot watch \(missing.joined(separator: ", "))") }
    }

    // MARK: Process setup

    private func blockSignalsIntoFD() throws(StartError) -> Int32 {
        var signals: [Int32] = [SIGTERM, SIGINT, SIGHUP]
        var set = sigset_t()
        guard cswitchyard_block_signals(&signals, Int32(signals.count), &set) == 0 else {
            throw StartError(description: "cannot block signals: \(SystemError("pthread_sigmask", errno: errno))", errno: errno)
        }
        let fd = signalfd(-1, &set, Int32(SFD_CLOEXEC))
        guard fd >= 0 else { throw StartError(description: "\(SystemError("signalfd", errno: errno))", errno: errno) }
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
