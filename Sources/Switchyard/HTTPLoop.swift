#if canImport(Glibc)
import Glibc
#endif
import CSwitchyardLinux
import Logging
import SwitchyardCompression
import SwitchyardConfig
import SwitchyardEventLoop
import SwitchyardExecution
import SwitchyardHTTP
import SwitchyardRouting

/// The HTTP/1.1 server of one event loop: accepts, reads, parses, dispatches
/// and writes for the connections it owns, and takes back the answers that
/// left it. Confined to its loop thread: other threads reach it only
/// through its inbox or `EventLoop.execute`.
///
/// The inline request path allocates nothing in steady state: one 64 KiB
/// read buffer per loop, a paged table of connection structs, one output
/// buffer that gathers every response produced from one read so they leave
/// in one `write`.
final class HTTPLoop: EventLoopHandler, @unchecked Sendable {
    // Epoll tag and timer kinds (the loop keeps 0xF0 and up).
    static let connectionKind: UInt8 = 0
    static let listenerKind: UInt8 = 1
    static let inboxKind: UInt8 = 2
    static let handoffTimeoutKind: UInt8 = 3
    static let workerKinds = ProcessPool.EventKinds(channel: 4, exit: 5, output: 6, respawn: 7)
    static let sweepTimer: UInt64 = 1
    static let resumeAcceptTimer: UInt64 = 2
    static let drainDeadlineTimer: UInt64 = 3

    static let readBufferSize = 64 * 1024
    /// Stop taking pipelined requests from a read once this much output waits.
    static let outputHighWater = 1 << 20
    /// While an answer is away, at most this much of what follows is read ahead.
    static let heldInputLimit = 64 * 1024
    /// Loop scratch that grew past this for one large answer is given back.
    static let scratchKeepBytes = 1 << 20

    let loop: EventLoop
    let shared: ServerShared
    let logger: Logger
    /// The config generation served now, and what the request path reads of
    /// it, kept at hand. A reload swaps them between events. `routes` is
    /// held by `generation` (or, while a pinned request is dispatched, by
    /// that request's generation), so the request path reads it through
    /// `withRoutes` without taking a reference.
    var generation: Generation
    var routesRef: Unmanaged<CompiledRoutes>
    var generationNumber: Int
    /// Routing answers for hot paths; off while a pinned request is
    /// dispatched against its own generation's routes.
    var routeCache = RouteCache()
    var usesRouteCache = true
    var limits: Limits
    var timeouts: ConnectionTimeouts
    var parser: RequestParser
    let inbox: LoopInbox<LoopMessage>

    var table = ConnectionTable()
    var openCount = 0

    let readBuffer: UnsafeMutableRawBufferPointer
    var output = ByteBuffer(capacity: 64 * 1024)
    var headers = HeaderTable()
    var response = Response()
    var pathScratch = ByteBuffer(capacity: 1024)
    var compressed = ByteBuffer()
    var parameters = RouteParameters()
    var deflater: Deflater
    var date = DateCache()
    var accessLog = AccessLogWriter()
    private var lastDroppedLogReport: UInt64 = 0

    /// Hand-offs gathered this turn, submitted once at its end.
    var threadJobs: [(pool: ThreadPool, jobs: [any PoolJob])] = []
    var inboxBatch: [LoopMessage] = []
    var handoffSequence: UInt32 = 0
    /// Worker processes on this loop (loop 0 only): the current generation's
    /// and those of older ones still finishing their jobs.
    var workerPools: [ProcessPool] = []
    /// Answers that came back for a connection already gone or already
    /// answered (504), dropped rather than written anywhere.
    var lateAnswers = 0

    var listenersRegistered = false
    var draining = false
    /// When the drain must be over (monotonic ms): a turn past it stops
    /// taking on work, however much it still holds.
    var drainDeadline: UInt64 = .max
    /// Connections not read while buffered memory is over its ceiling.
    var pausedCount = 0
    /// One spare descriptor, given up to accept-and-close when out of fds.
    var reserveFD: Int32
    var descriptorShortages = 0
    var lastShortageLog: UInt64 = 0
    var refusedSinceLog = 0
    var lastRefusalLog: UInt64 = 0

    /// Nil when zlib cannot get memory for this loop's streams.
    init?(loop: EventLoop, shared: ServerShared, generation: Generation, inbox: LoopInbox<LoopMessage>, logger: Logger) {
        guard let deflater = Deflater(level: generation.routes.compression.level) else { return nil }
        self.deflater = deflater
        self.loop = loop
        self.shared = shared
        self.generation = generation
        self.generationNumber = generation.number
        self.routesRef = .passUnretained(generation.routes)
        self.limits = generation.limits
        self.timeouts = generation.timeouts
        self.parser = generation.parser
        self.inbox = inbox
        self.logger = logger
        readBuffer = .allocate(byteCount: Self.readBufferSize, alignment: 16)
        reserveFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
        accessLog.use(generation.accessLog)
    }

    // MARK: Registration

    /// On the loop's thread, before its first turn.
    func start() {
        loop.assertInLoop()
        registerListeners()
        do {
            try loop.selector.add(inbox.fd, tag: EventTag(kind: Self.inboxKind, slot: 0, generation: 0).raw, interest: .read)
        } catch {
            logger.error("cannot watch the loop's inbox: \(error)")
        }
        if loop.index == 0, let workers = generation.workers { startWorkers(workers.pool) }
        shared.loopStates[loop.index].adopted.store(generation.number, ordering: .releasing)
        loop.scheduleTimer(at: loop.now + sweepInterval, tag: Self.sweepTimer)
    }

    /// The routes being dispatched against, borrowed for the call.
    @inline(__always) func withRoutes<T>(_ body: (CompiledRoutes) -> T) -> T {
        routesRef._withUnsafeGuaranteedRef(body)
    }

    var sweepInterval: UInt64 {
        UInt64(max(10, min(250, min(limits.headerTimeoutMs, limits.idleTimeoutMs) / 4)))
    }

    func registerListeners() {
        guard !listenersRegistered, !draining else { return }
        for listener in generation.listeners { register(listener) }
        listenersRegistered = true
    }

    private func register(_ listener: Listener) {
        do {
            try loop.selector.add(listener.fd, tag: EventTag(kind: Self.listenerKind, slot: listener.id, generation: 0).raw,
                                  interest: [.read, .exclusive])
        } catch {
            logger.error("cannot watch listener \(listener.boundDescription): \(error)")
        }
    }

    func unregisterListeners() {
        guard listenersRegistered else { return }
        for listener in generation.listeners { loop.selector.remove(listener.fd) }
        listenersRegistered = false
    }

    /// A reload's next generation, taken up between events: listeners the
    /// new config dropped are no longer accepted on, new ones are; what the
    /// request path reads is swapped. Requests already begun keep theirs.
    func adopt(_ next: Generation) {
        let previous = generation
        let kept = Set(next.listeners.map(\.id))
        if listenersRegistered {
            for listener in previous.listeners where !kept.contains(listener.id) { loop.selector.remove(listener.fd) }
            let had = Set(previous.listeners.map(\.id))
            for listener in next.listeners where !had.contains(listener.id) { register(listener) }
        }
        if next.routes.compression.level != previous.routes.compression.level,
           let fresh = Deflater(level: next.routes.compression.level) {
            deflater = fresh
        }
        generation = next
        generationNumber = next.number
        routeCache.clear()
        routesRef = .passUnretained(next.routes)
        limits = next.limits
        timeouts = next.timeouts
        parser = next.parser
        accessLog.use(next.accessLog)
        if loop.index == 0, let workers = next.workers { startWorkers(workers.pool) }
        shared.loopStates[loop.index].adopted.store(next.number, ordering: .releasing)
    }

    /// On loop 0: worker processes to own and start.
    func startWorkers(_ pool: ProcessPool) {
        guard !workerPools.contains(where: { $0 === pool }) else { return }
        pool.delegate = self
        workerPools.append(pool)
        pool.start()
    }

    /// On loop 0: a reload that started these workers failed; they go at once.
    func stopWorkersNow(_ pool: ProcessPool) {
        pool.stop()
        workerPools.removeAll { $0 === pool }
    }

    func workerPool(for tag: EventTag) -> ProcessPool? {
        let id = ProcessPool.poolID(of: tag)
        return workerPools.first { $0.id == id }
    }

    // MARK: Events

    func handleEvent(tag: EventTag, events: UInt32, loop: EventLoop) {
        switch tag.kind {
        case Self.connectionKind:
            connectionEvent(tag, events)
        case Self.listenerKind:
            // A listener the generation no longer has: an event of the batch that saw it go.
            if let listener = generation.listeners.first(where: { $0.id == tag.slot }) { acceptConnections(from: listener) }
        case Self.inboxKind:
            takeInbox()
        case Self.workerKinds.channel, Self.workerKinds.exit, Self.workerKinds.output:
            workerPool(for: tag)?.handleEvent(tag, events: events)
        default:
            break
        }
    }

    private func connectionEvent(_ tag: EventTag, _ events: UInt32) {
        let slot = tag.slot
        guard slot < table.usedSlots else { return }
        let c = table[slot]
        // A stale event for a connection closed earlier in this batch.
        guard c.pointee.isOpen, c.pointee.generation & 0xFF_FFFF == tag.generation else { return }
        let hangUp = cswitchyard_EPOLLHUP() | cswitchyard_EPOLLERR()
        if c.pointee.http.writeBlocked {
            // Not reading while earlier answers wait to be written: answers stay in order.
            if events & hangUp != 0 { closeConnection(c) }
            else if events & Interest.write.rawValue != 0 { writePending(c) }
        } else if c.pointee.http.answerAway {
            if events & hangUp != 0 { closeConnection(c) } else { readWhileAway(c) }
        } else if c.pointee.paused {
            if events & hangUp != 0 { closeConnection(c) }
        } else if events & (Interest.read.rawValue | hangUp) != 0 {
            readable(c)
        }
        settle(c)
    }

    func handleTimer(tag: UInt64, loop: EventLoop) {
        switch tag {
        case Self.sweepTimer:
            sweep()
            resumePausedIfMemoryAllows()
            loop.scheduleTimer(at: loop.now + sweepInterval, tag: Self.sweepTimer)
        case Self.resumeAcceptTimer:
            rearmReserveDescriptor()
            registerListeners()
        case Self.drainDeadlineTimer:
            var cut = 0
            for slot in 0..<table.usedSlots where table[slot].pointee.isOpen {
                let c = table[slot]
                if c.pointee.http.phase != .idle && c.pointee.http.phase != .lingering || c.pointee.http.writeBlocked { cut += 1 }
                closeConnection(c)
            }
            if cut > 0 {
                logger.warning("\(loop.name): shutdown_timeout_ms (\(limits.shutdownTimeoutMs) ms) passed; cut \(cut) connection\(cut == 1 ? "" : "s") with a request or answer in progress")
            }
            finishDrainIfIdle()
        default:
            let event = EventTag(raw: tag)
            switch event.kind {
            case Self.handoffTimeoutKind: handoffTimedOut(event)
            case Self.workerKinds.respawn: workerPool(for: event)?.handleTimer(event)
            default: break
            }
        }
    }

    /// Once per turn: hand-offs gathered during it go out together.
    func endOfTurn(loop: EventLoop) {
        if !threadJobs.isEmpty { submitThreadJobs() }
        if !workerPools.isEmpty {
            for pool in workerPools { pool.flush() }
            workerPools.removeAll { $0.isFinished }
        }
        shared.watchdog?.tick(now: loop.now, loops: shared.loops)
        trimScratch()
        if accessLog.isOn { accessLog.flush() }
        // Told once the log has room again: on a shared stderr, sooner would be lost too.
        if accessLog.droppedLines > 0, accessLog.caughtUp { reportDroppedLogLines() }
    }

    private func reportDroppedLogLines() {
        guard lastDroppedLogReport == 0 || loop.now - lastDroppedLogReport >= 10_000 else { return }   // at most one line per 10 s
        logger.warning("access log: \(Plural.count(accessLog.droppedLines, "line")) dropped: its file or pipe would not take them (a full disk, a reader that stopped reading)")
        accessLog.droppedLines = 0
        lastDroppedLogReport = loop.now
    }

    // MARK: Accept

    private func acceptConnections(from listener: Listener) {
        for _ in 0..<128 {
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    cswitchyard_accept4(listener.fd, $0, &length, cswitchyard_SOCK_NONBLOCK() | cswitchyard_SOCK_CLOEXEC())
                }
            }
            if fd < 0 {
                switch errno {
                case EAGAIN, EWOULDBLOCK: return
                case EINTR, ECONNABORTED, EPROTO: continue
                case EMFILE, ENFILE: outOfDescriptors(listener); return
                case EINVAL: return   // shut down for draining; the drain unregisters it
                default:
                    logger.warning("accept on \(listener.boundDescription): \(SystemError("accept4", errno: errno))")
                    return
                }
            }
            // Past max_connections, new connections are closed at once.
            if shared.openConnections.add(1, ordering: .relaxed).newValue > limits.maxConnections {
                shared.openConnections.subtract(1, ordering: .relaxed)
                close(fd)
                refusedSinceLog += 1
                if loop.now - lastRefusalLog >= 10_000 {   // at most one line per 10 s
                    logger.warning("refused \(refusedSinceLog) connection\(refusedSinceLog == 1 ? "" : "s") past max_connections (\(limits.maxConnections)) in the last \(lastRefusalLog == 0 ? "moments" : "\((loop.now - lastRefusalLog) / 1000) s")")
                    refusedSinceLog = 0
                    lastRefusalLog = loop.now
                }
                continue
            }
            if !listener.isUnix {
                var on: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            }
            let slot = table.allocate()
            let c = table[slot]
            c.pointee.fd = fd
            c.pointee.slotIndex = Int32(slot)
            c.pointee.generation &+= 1
            c.pointee.isOpen = true
            c.pointee.http.opened(now: loop.now, timeouts)
            c.pointee.peer = Self.peerAddress(&address, isUnix: listener.isUnix)
            c.pointee.isUnixPeer = listener.isUnix
            c.pointee.interest = Interest.read.rawValue
            openCount += 1
            do {
                try loop.selector.add(fd, tag: tag(slot), interest: .read)
            } catch {
                logger.warning("cannot watch connection: \(error)")
                closeConnection(c)
            }
        }
    }

    /// EMFILE/ENFILE: the pending connection would keep the listener readable
    /// and the loop spinning. Spend the reserve fd to accept and close it; if
    /// even that fails, stop watching listeners for a moment.
    private func outOfDescriptors(_ listener: Listener) {
        if reserveFD >= 0 {
            close(reserveFD)
            let fd = cswitchyard_accept4(listener.fd, nil, nil, cswitchyard_SOCK_CLOEXEC())
            if fd >= 0 { close(fd) }
            // Another loop's accept may take the freed number first: then
            // this fails, and the reserve is re-armed when descriptors free up.
            reserveFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
        }
        descriptorShortages += 1
        if lastShortageLog == 0 || loop.now - lastShortageLog >= 10_000 {   // at most one line per 10 s
            logger.warning("out of file descriptors: refusing new connections for 100 ms at a time (\(descriptorShortages) times so far); raise LimitNOFILE or lower max_connections")
            lastShortageLog = loop.now
        }
        unregisterListeners()
        loop.scheduleTimer(at: loop.now + 100, tag: Self.resumeAcceptTimer)
    }

    func rearmReserveDescriptor() {
        if reserveFD < 0 { reserveFD = open("/dev/null", O_RDONLY | O_CLOEXEC) }
    }

    @inline(__always) func tag(_ slot: Int) -> UInt64 {
        EventTag(kind: Self.connectionKind, slot: slot, generation: table[slot].pointee.generation).raw
    }

    private static func peerAddress(_ address: inout sockaddr_storage, isUnix: Bool) -> (UInt64, UInt64) {
        var bytes: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &bytes) { out in
            if isUnix || address.ss_family == sa_family_t(AF_UNIX) {
                out[10] = 0xff; out[11] = 0xff; out[12] = 127; out[15] = 1
            } else if address.ss_family == sa_family_t(AF_INET) {
                withUnsafeBytes(of: &address) { raw in
                    let v4 = raw.load(as: sockaddr_in.self)
                    out[10] = 0xff; out[11] = 0xff
                    withUnsafeBytes(of: v4.sin_addr) { for i in 0..<4 { out[12 + i] = $0[i] } }
                }
            } else {
                withUnsafeBytes(of: &address) { raw in
                    let v6 = raw.load(as: sockaddr_in6.self)
                    withUnsafeBytes(of: v6.sin6_addr) { for i in 0..<16 { out[i] = $0[i] } }
                }
            }
        }
        return bytes
    }

    // MARK: Drain

    /// Stop accepting; let connections finish their request and close. Idle
    /// keep-alive connections get a short grace to send one last request —
    /// answered with `Connection: close`, and `/readyz` with 503 — so a
    /// client that raced the stop gets an answer rather than a reset.
    /// The loop stops when no connection is left.
    func beginDrain() {
        draining = true
        drainDeadline = loop.now + UInt64(limits.shutdownTimeoutMs)
        unregisterListeners()
        for slot in 0..<table.usedSlots where table[slot].pointee.isOpen {
            table[slot].pointee.http.drainBegan(now: loop.now, timeouts)
        }
        loop.scheduleTimer(at: drainDeadline, tag: Self.drainDeadlineTimer)
        finishDrainIfIdle()
    }

    /// Read from the clock, not the turn's cached time: a turn that runs
    /// slow handlers must notice the deadline inside the turn.
    var drainIsOverdue: Bool { MonotonicClock.nowMilliseconds() >= drainDeadline }

    func finishDrainIfIdle() {
        if draining, openCount == 0 { loop.stop() }
    }

    /// After the loop's last turn, on its thread.
    func finish() {
        for pool in workerPools { pool.stop() }
        if lateAnswers > 0 { logger.info("\(loop.name): \(lateAnswers) late answers dropped (client gone or already timed out)") }
    }

    deinit {
        for slot in 0..<table.usedSlots where table[slot].pointee.isOpen { closeConnection(table[slot]) }
        readBuffer.deallocate()
        output.release(); headers.release(); response.release(); pathScratch.release(); compressed.release()
        accessLog.release()
        if reserveFD >= 0 { close(reserveFD) }
    }
}
