#if canImport(Glibc)
import Glibc
#endif
import CSwitchyardLinux
import Logging
import Synchronization
import SwitchyardEventLoop

/// Work for a worker process: an opaque request the worker's runner reads.
public protocol ProcessJob: AnyObject {
    /// The request payload; valid while the job is queued or in flight.
    var payload: UnsafeRawBufferPointer { get }
}

/// Who hears how jobs end. Called on the pool's loop.
public protocol ProcessPoolDelegate: AnyObject {
    /// A worker answered `job`; `result` is valid only during the call.
    func processPool(_ pool: ProcessPool, finished job: any ProcessJob, result: UnsafeRawBufferPointer)
    /// The worker running `job` died: it crashed, exited, or was killed for a timeout.
    func processPool(_ pool: ProcessPool, failed job: any ProcessJob, reason: String)
}

/// Child worker processes, nginx's model: each started by re-executing the
/// daemon's binary in its worker role (`posix_spawn`, never `fork` of a
/// threaded process), one `SOCK_SEQPACKET` pair each, reaped through a
/// pidfd from the loop that owns the pool — never from a signal handler.
///
/// Jobs wait in one bounded queue (full: the caller answers 503) and go to
/// idle workers in batches once per loop turn. A worker answers each job as
/// it finishes it, so when one dies only the job it was running fails; the
/// jobs queued behind it go back to the front of the queue. A dead worker is
/// replaced, with back-off when they keep dying; a worker that has run
/// `maxJobs` is retired and replaced. Worker output lands in the log with
/// the worker's pid. Confined to its loop's thread.
public final class ProcessPool: @unchecked Sendable {
    public struct Settings: Sendable, Equatable {
        public var size: Int
        public var queueLimit: Int
        /// Retire a worker after this many jobs; 0: never.
        public var maxJobs: Int
        /// Usually `/proc/self/exe`.
        public var executable: String
        /// argv, `[0]` included; the pool appends `--index N`.
        public var arguments: [String]
        /// The first frame each worker gets: what it needs to build its handlers.
        public var setup: [UInt8]

        public init(size: Int, queueLimit: Int, maxJobs: Int, executable: String, arguments: [String], setup: [UInt8]) {
            self.size = size; self.queueLimit = queueLimit; self.maxJobs = maxJobs
            self.executable = executable; self.arguments = arguments; self.setup = setup
        }
    }

    /// The epoll tag and timer kinds the pool uses on its loop; the owner
    /// routes events and timers of these kinds to `handleEvent`/`handleTimer`.
    public struct EventKinds: Sendable {
        public var channel: UInt8, exit: UInt8, output: UInt8, respawn: UInt8
        public init(channel: UInt8, exit: UInt8, output: UInt8, respawn: UInt8) {
            self.channel = channel; self.exit = exit; self.output = output; self.respawn = respawn
        }
    }

    struct Worker {
        enum State { case empty, starting, ready, retiring, exited }
        var state = State.empty
        var pid: pid_t = 0
        var pidfd: Int32 = -1
        var channel: Int32 = -1
        var output: Int32 = -1
        var generation: UInt32 = 0
        /// Sent and not yet answered, in the order the worker runs them.
        var inFlight: [(id: UInt32, job: any ProcessJob)] = []
        var writer = FrameWriter()
        var reader = FrameReader()
        var waitsWritable = false
        var jobsDone = 0
        var startedAt: UInt64 = 0
        var partialLine: [UInt8] = []
        /// Killed because the job it ran was abandoned: its end is expected.
        var killedOnPurpose = false
        /// The answer area shared with it (see `SharedAnswerArea`), and how far it has been read.
        var area: UnsafeMutableRawPointer?
        var areaRead = SharedAnswerArea.dataStart
    }

    public let settings: Settings
    /// Which pool an event or timer tag names, on a loop that has several
    /// (a reload's new workers beside the old ones winding down).
    public let id: Int
    let loop: EventLoop
    let kinds: EventKinds
    let logger: Logger
    public weak var delegate: (any ProcessPoolDelegate)?

    var workers: [Worker]
    /// Jobs waiting; a slot is cleared when its job leaves, so nothing the
    /// queue no longer needs stays referenced.
    private var queue: [(any ProcessJob)?] = []
    private var queueHead = 0
    private var nextJobID: UInt32 = 0
    /// Deaths in a row of workers that never got going, for the back-off.
    private var failuresInARow = 0
    private var stopped = false
    /// Retired: no new jobs; once the last is answered, the workers exit.
    public private(set) var retiring = false
    /// Tag slots: the pool's id above, the worker's index below.
    static let indexBits = 12
    public static let maxWorkers = 1 << indexBits

    /// Jobs the most a worker gets in one batch, so one busy worker does not
    /// hold work an idle one could start.
    static let batchLimit = 16

    /// Builds the pool; nothing starts until `start()` on `loop`'s thread.
    public init(id: Int, settings: Settings, loop: EventLoop, kinds: EventKinds, logger: Logger) {
        precondition(settings.size <= Self.maxWorkers, "at most \(Self.maxWorkers) workers")
        self.id = id
        self.settings = settings
        self.loop = loop
        self.kinds = kinds
        self.logger = logger
        workers = Array(repeating: Worker(), count: max(1, settings.size))
    }

    /// Workers set up and taking jobs. Any thread (the server waits on it before READY=1).
    public let readyCount = Atomic<Int>(0)
    /// Jobs waiting for a worker.
    public var queuedCount: Int { queue.count - queueHead }
    /// Pids of the live workers.
    public var pids: [pid_t] { workers.filter { $0.state != .empty && $0.state != .exited }.map(\.pid) }

    /// Starts every worker. On the loop's thread.
    public func start() {
        loop.assertInLoop()
        for index in workers.indices { spawn(index) }
    }

    // MARK: Jobs

    /// Queues `job`; false when the queue is full (answer 503).
    public func submit(_ job: any ProcessJob) -> Bool {
        loop.assertInLoop()
        guard queuedCount < settings.queueLimit, !stopped, !retiring else { return false }
        queue.append(job)
        return true
    }

    /// The job's answer is no longer wanted (its client left, or it timed
    /// out). Queued: it is dropped. Running and `kill`: its worker is
    /// killed, which fails the job, and replaced. Otherwise it runs and its
    /// answer is dropped by the owner.
    public func cancel(_ job: any ProcessJob, kill: Bool) {
        loop.assertInLoop()
        if let index = queue[queueHead...].firstIndex(where: { $0 === job }) {
            queue.remove(at: index)
            return
        }
        guard kill else { return }
        for index in workers.indices where workers[index].inFlight.first?.job === job {
            workers[index].killedOnPurpose = true
            Glibc.kill(workers[index].pid, SIGKILL)
        }
    }

    /// Sends queued jobs to idle workers: called once per loop turn.
    public func flush() {
        guard queuedCount > 0 else { return }
        let idle = workers.indices.filter { workers[$0].state == .ready && workers[$0].inFlight.isEmpty }
        guard !idle.isEmpty else { return }
        let share = min(Self.batchLimit, (queuedCount + idle.count - 1) / idle.count)
        for index in idle where queuedCount > 0 {
            var take = min(share, queuedCount)
            if settings.maxJobs > 0 { take = min(take, settings.maxJobs - workers[index].jobsDone) }
            guard take > 0 else { continue }
            // Everything it answered before was read: its answer area starts
            // over. The daemon resets the area's count itself, before the
            // batch leaves, so a worker that dies before writing an answer
            // of this batch cannot be taken to have answered with the last one's.
            workers[index].writer.append(.batch, id: 0, length: 0) { _ in }
            workers[index].areaRead = SharedAnswerArea.dataStart
            workers[index].area?.storeBytes(of: UInt64(SharedAnswerArea.dataStart), as: UInt64.self)
            for _ in 0..<take {
                let job = queue[queueHead]!
                queue[queueHead] = nil
                queueHead += 1
                nextJobID &+= 1
                workers[index].inFlight.append((nextJobID, job))
                workers[index].writer.append(.job, id: nextJobID, payload: job.payload)
            }
            send(index)
        }
        if queueHead > 64, queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
    }

    private func send(_ index: Int) {
        let channel = workers[index].channel
        switch workers[index].writer.send(to: channel) {
        case .done:
            if workers[index].waitsWritable {
                workers[index].waitsWritable = false
                try? loop.selector.modify(workers[index].channel, tag: tag(kinds.channel, index), interest: .read)
            }
        case .wouldBlock:
            if !workers[index].waitsWritable {
                workers[index].waitsWritable = true
                try? loop.selector.modify(workers[index].channel, tag: tag(kinds.channel, index), interest: [.read, .write])
            }
        case .failed:
            break   // the worker is gone; its exit is reported through the pidfd
        }
    }

    // MARK: Events

    /// An event with one of the pool's kinds.
    public func handleEvent(_ tag: EventTag, events: UInt32) {
        let index = tag.slot & (Self.maxWorkers - 1)
        guard index < workers.count, workers[index].generation & 0xFF_FFFF == tag.generation,
              workers[index].state != .empty else { return }
        switch tag.kind {
        case kinds.channel:
            if events & Interest.write.rawValue != 0 { send(index) }
            if events & (Interest.read.rawValue | cswitchyard_EPOLLHUP() | cswitchyard_EPOLLERR()) != 0 { receive(index) }
        case kinds.exit:
            reap(index)
        case kinds.output:
            readOutput(index)
        default:
            break
        }
    }

    /// A respawn timer.
    public func handleTimer(_ tag: EventTag) {
        let index = tag.slot & (Self.maxWorkers - 1)
        guard !stopped, !retiring, index < workers.count, workers[index].state == .empty,
              workers[index].generation & 0xFF_FFFF == tag.generation else { return }
        spawn(index)
    }

    private func receive(_ index: Int) {
        let channel = workers[index].channel
        let generation = workers[index].generation
        // Frames are handled with the reader taken out of the table, since
        // handling one may touch the worker's record.
        var reader = workers[index].reader
        defer { if workers[index].generation == generation { workers[index].reader = reader } else { reader.release() } }
        while true {
            switch reader.receive(from: channel) {
            case .data:
                reader.forEachFrame { kind, id, payload in
                    self.frame(index, kind, id, payload)
                }
            case .wouldBlock:
                return
            case .closed, .failed:
                // The worker closed its end: it is exiting. Stop watching the
                // channel; the pidfd says when it is gone.
                loop.selector.remove(workers[index].channel)
                if workers[index].state == .ready { readyCount.subtract(1, ordering: .relaxed) }
                if workers[index].state != .retiring { workers[index].state = .exited }
                return
            }
        }
    }

    private func frame(_ index: Int, _ kind: FrameKind?, _ id: UInt32, _ payload: UnsafeRawBufferPointer) {
        switch kind {
        case .ready?:
            if workers[index].state == .starting {
                workers[index].state = .ready
                readyCount.add(1, ordering: .relaxed)
                if retiring { retire(index) }
                logger.debug("worker \(workers[index].pid) ready")
            }
        case .result?:
            answered(index, id, payload)
        case .answersInSharedArea? where payload.count == 8:
            let start = Int(UInt32(littleEndian: payload.loadUnaligned(as: UInt32.self)))
            let end = Int(UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
            readAnswerArea(index, upTo: end, expectedFrom: start)
        default:
            logger.error("worker \(workers[index].pid) sent an unknown frame; replacing it")
            Glibc.kill(workers[index].pid, SIGKILL)
        }
    }

    private func answered(_ index: Int, _ id: UInt32, _ payload: UnsafeRawBufferPointer) {
        guard let first = workers[index].inFlight.first, first.id == id else {
            logger.error("worker \(workers[index].pid) answered job \(id) out of order; replacing it")
            Glibc.kill(workers[index].pid, SIGKILL)
            return
        }
        workers[index].inFlight.removeFirst()
        workers[index].jobsDone += 1
        failuresInARow = 0
        delegate?.processPool(self, finished: first.job, result: payload)
        if workers[index].inFlight.isEmpty, workers[index].state == .ready,
           (settings.maxJobs > 0 && workers[index].jobsDone >= settings.maxJobs) || (retiring && queuedCount == 0) {
            retire(index)
        }
    }

    /// The answers the worker left in the shared area, from where reading
    /// stopped up to `end` (its own count when it died).
    private func readAnswerArea(_ index: Int, upTo end: Int, expectedFrom start: Int? = nil) {
        guard let area = workers[index].area else { return }
        let from = workers[index].areaRead
        guard end <= SharedAnswerArea.bytes, start == nil || start == from else {
            logger.error("worker \(workers[index].pid) announced answers at \(start ?? -1)..<\(end), expected from \(from); replacing it")
            Glibc.kill(workers[index].pid, SIGKILL)
            return
        }
        guard end > from else { return }
        workers[index].areaRead = end
        FrameReader.forEachFrame(in: UnsafeRawBufferPointer(start: area + from, count: end - from)) { kind, id, payload in
            if kind == .result { self.answered(index, id, payload) }
        }
    }

    /// It ran its `maxJobs`: closing the channel makes it exit once idle.
    private func retire(_ index: Int) {
        readyCount.subtract(1, ordering: .relaxed)
        workers[index].state = .retiring
        shutdown(workers[index].channel, Int32(SHUT_WR))
        logger.debug("worker \(workers[index].pid) retired after \(workers[index].jobsDone) jobs")
    }

    private func reap(_ index: Int) {
        var status: Int32 = 0
        let pid = workers[index].pid
        let reaped = waitpid(pid, &status, WNOHANG)
        guard reaped == pid else { return }
        // What it answered before it went: the socket's last messages, then
        // the answers it wrote to the shared area and never announced.
        if workers[index].state != .exited { receive(index) }
        if let area = workers[index].area { readAnswerArea(index, upTo: SharedAnswerArea.written(area)) }
        let retired = workers[index].state == .retiring
        if workers[index].state == .ready { readyCount.subtract(1, ordering: .relaxed) }
        let how = Self.describe(status)
        let lived = loop.now - workers[index].startedAt
        readOutput(index)   // whatever it wrote last
        let inFlight = workers[index].inFlight
        let onPurpose = workers[index].killedOnPurpose
        forget(index)
        if onPurpose {
            logger.info("worker \(pid) stopped: the job it ran was abandoned (timeout_ms); starting another")
        } else if !retired, !stopped {
            let failing = inFlight.isEmpty ? "" : "; its job fails with 502"
            logger.warning("worker \(pid) \(how) after \(lived) ms\(failing)\(retiring ? "" : "; starting another")")
        }
        if let first = inFlight.first {
            delegate?.processPool(self, failed: first.job, reason: "worker \(pid) \(how)")
            // The jobs sent behind it never started: back to the front of the queue.
            let rest = inFlight.dropFirst().map(\.job)
            queue.replaceSubrange(queueHead..<queueHead, with: rest.map { Optional($0) })
        }
        guard !stopped, !retiring else { return }
        if retired {
            spawn(index)
            return
        }
        if !onPurpose, workers[index].jobsDone == 0, lived < 2000 {
            failuresInARow += 1
        }
        let delay = failuresInARow == 0 ? 0 : min(5000, 100 << min(failuresInARow - 1, 6))
        if delay == 0 {
            spawn(index)
        } else {
            logger.warning("workers keep dying (\(failuresInARow) in a row); next start in \(delay) ms")
            loop.scheduleTimer(at: loop.now + UInt64(delay), tag: tag(kinds.respawn, index))
        }
    }

    static func describe(_ status: Int32) -> String {
        let signal = status & 0x7F
        if signal == 0 { return "exited with status \((status >> 8) & 0xFF)" }
        let name: String
        switch signal {
        case SIGKILL: name = "SIGKILL"
        case SIGSEGV: name = "SIGSEGV"
        case SIGABRT: name = "SIGABRT"
        case SIGBUS: name = "SIGBUS"
        case SIGILL: name = "SIGILL"
        case SIGTERM: name = "SIGTERM"
        case SIGFPE: name = "SIGFPE"
        case SIGTRAP: name = "SIGTRAP"
        default: name = "signal \(signal)"
        }
        return "was killed by \(name)"
    }

    private func readOutput(_ index: Int) {
        guard workers[index].output >= 0 else { return }
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(workers[index].output, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            workers[index].partialLine += chunk[0..<n]
            while let newline = workers[index].partialLine.firstIndex(of: 0x0A) {
                let line = String(decoding: workers[index].partialLine[..<newline], as: UTF8.self)
                workers[index].partialLine.removeSubrange(...newline)
                logger.notice("worker \(workers[index].pid): \(line)")
            }
            if workers[index].partialLine.count > 8192 {
                logger.notice("worker \(workers[index].pid): \(String(decoding: workers[index].partialLine, as: UTF8.self))")
                workers[index].partialLine.removeAll()
            }
        }
    }

    // MARK: Starting and stopping

    private func tag(_ kind: UInt8, _ index: Int) -> UInt64 {
        EventTag(kind: kind, slot: id << Self.indexBits | index, generation: workers[index].generation).raw
    }

    /// The pool an event or timer tag belongs to.
    public static func poolID(of tag: EventTag) -> Int { tag.slot >> indexBits }

    /// A reload replaced this pool: it takes no new jobs, runs what it holds,
    /// and its workers exit as they fall idle. `isFinished` says when all are gone.
    public func retire() {
        retiring = true
        for index in workers.indices where workers[index].state == .ready && workers[index].inFlight.isEmpty && queuedCount == 0 {
            retire(index)
        }
    }

    /// Retired and every worker gone.
    public var isFinished: Bool {
        (retiring || stopped) && workers.allSatisfy { $0.state == .empty }
    }

    private func spawn(_ index: Int) {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | cswitchyard_SOCK_CLOEXEC(), 0, &pair) == 0 else {
            logger.error("cannot start a worker: \(SystemError("socketpair", errno: errno))")
            loop.scheduleTimer(at: loop.now + 1000, tag: tag(kinds.respawn, index))
            return
        }
        var pipeEnds: [Int32] = [-1, -1]
        guard cswitchyard_pipe2(&pipeEnds, O_CLOEXEC) == 0 else {
            logger.error("cannot start a worker: \(SystemError("pipe2", errno: errno))")
            Glibc.close(pair[0]); Glibc.close(pair[1])
            loop.scheduleTimer(at: loop.now + 1000, tag: tag(kinds.respawn, index))
            return
        }
        let argv = settings.arguments + ["--index", "\(index)"]
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var pid: pid_t = 0
        let areaFD = cswitchyard_shared_memory("switchyard-answers", SharedAnswerArea.bytes)
        var area: UnsafeMutableRawPointer?
        if areaFD >= 0, let memory = mmap(nil, SharedAnswerArea.bytes, PROT_READ | PROT_WRITE, MAP_SHARED, areaFD, 0),
           memory != MAP_FAILED {
            area = memory
        }
        let result = cswitchyard_spawn_worker(settings.executable, &cArgs, pair[1], area == nil ? -1 : areaFD, pipeEnds[1], &pid)
        Glibc.close(pair[1])
        Glibc.close(pipeEnds[1])
        if areaFD >= 0 { Glibc.close(areaFD) }
        guard result == 0 else {
            logger.error("cannot start a worker: \(SystemError("posix_spawn \(settings.executable)", errno: result))")
            Glibc.close(pair[0]); Glibc.close(pipeEnds[0])
            if let area { munmap(area, SharedAnswerArea.bytes) }
            failuresInARow += 1
            loop.scheduleTimer(at: loop.now + UInt64(min(5000, 100 << min(failuresInARow, 6))), tag: tag(kinds.respawn, index))
            return
        }
        _ = fcntl(pair[0], F_SETFL, fcntl(pair[0], F_GETFL) | O_NONBLOCK)
        _ = fcntl(pipeEnds[0], F_SETFL, fcntl(pipeEnds[0], F_GETFL) | O_NONBLOCK)
        var worker = Worker()
        worker.generation = (workers[index].generation &+ 1) & 0xFF_FFFF
        worker.state = .starting
        worker.pid = pid
        worker.channel = pair[0]
        worker.output = pipeEnds[0]
        worker.pidfd = cswitchyard_pidfd_open(pid)
        worker.startedAt = loop.now
        worker.jobsDone = 0
        worker.area = area
        workers[index] = worker
        do {
            try loop.selector.add(worker.channel, tag: tag(kinds.channel, index), interest: .read)
            try loop.selector.add(worker.output, tag: tag(kinds.output, index), interest: .read)
            if worker.pidfd >= 0 { try loop.selector.add(worker.pidfd, tag: tag(kinds.exit, index), interest: .read) }
        } catch {
            logger.error("cannot watch worker \(pid): \(error)")
        }
        settings.setup.withUnsafeBytes { workers[index].writer.append(.setup, id: 0, payload: $0) }
        send(index)
    }

    private func forget(_ index: Int) {
        for fd in [workers[index].channel, workers[index].output, workers[index].pidfd] where fd >= 0 {
            loop.selector.remove(fd)
            Glibc.close(fd)
        }
        workers[index].writer.release()
        workers[index].reader.release()
        if let area = workers[index].area { munmap(area, SharedAnswerArea.bytes) }
        let generation = workers[index].generation
        let jobsDone = workers[index].jobsDone
        workers[index] = Worker()
        workers[index].generation = generation
        workers[index].jobsDone = jobsDone
    }

    /// Stops every worker (SIGTERM; `PR_SET_PDEATHSIG` catches any left when
    /// the daemon exits). Queued jobs are dropped. On the loop's thread.
    public func stop() {
        stopped = true
        queue.removeAll()
        queueHead = 0
        for index in workers.indices where workers[index].state != .empty {
            Glibc.kill(workers[index].pid, SIGTERM)
            var status: Int32 = 0
            _ = waitpid(workers[index].pid, &status, WNOHANG)
            forget(index)
        }
    }
}
