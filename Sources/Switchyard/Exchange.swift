import Synchronization
import SwitchyardEventLoop
import SwitchyardExecution
import SwitchyardHTTP
import SwitchyardPlugins
import SwitchyardRouting

/// What a loop hears from other threads and loops.
enum LoopMessage: Sendable {
    /// An exchange's answer (or failure) is ready for its connection.
    case answer(Exchange)
    /// For the loop that owns the worker processes: run this exchange in one.
    case processJob(Exchange)
    /// For the process pool's loop: the exchange's answer is no longer wanted.
    case cancelProcessJob(Exchange, kill: Bool)
    /// Serve this generation from now on (a reload).
    case adopt(Generation)
    /// For loop 0: start these worker processes (a reload's, before it swaps).
    case startWorkers(ProcessPool)
    /// For loop 0: stop these workers at once (a reload that failed).
    case stopWorkers(ProcessPool)
    /// For loop 0: no generation uses these workers any more; let them finish and exit.
    case retireWorkers(ProcessPool)
}

/// A request that leaves its loop — to an await, a pool thread or a worker
/// process. It owns a copy of the request (head, decoded body and decoded
/// path in one buffer, the parsed offsets rebased onto it), names the
/// connection its answer goes to (loop, slot, generation), and carries the
/// answer back. Made only when a request leaves: the inline path borrows the
/// loop's buffers and allocates nothing.
///
/// One thread at a time uses it: the loop, then the thread or task running
/// the handler, then the loop again; the queue and the inbox that carry it
/// between them order those accesses.
final class Exchange: @unchecked Sendable {
    enum Outcome {
        case pending
        case answered
        /// The server answers `status` itself; `reason` is for the log.
        case failed(status: Int, reason: String)
    }

    /// Where the answer goes.
    let inbox: LoopInbox<LoopMessage>
    let loopIndex: Int
    let slot: Int
    let connectionGeneration: UInt32
    /// Which hand-off of the connection this is, for its timeout timer.
    let sequence: UInt32
    let route: CompiledRoutes.Entry
    /// The generation the request began under: it finishes under it, pools included.
    let generation: Generation
    /// When it left the loop (monotonic µs).
    let startedAt: UInt64
    /// Whether the access log samples it (decided when it was read).
    var accessLogged = false

    private(set) var bytes: ByteBuffer
    let head: RequestHead
    private(set) var headers: HeaderTable
    let path: ByteRange
    let body: ByteRange
    let parameters: RouteParameters

    var response = Response()
    var outcome = Outcome.pending
    /// Queued, running, or abandoned (timed out or its client left): a pool
    /// thread skips an abandoned job that has not started.
    let state = Atomic<UInt8>(Exchange.queued)
    static let queued: UInt8 = 0, running: UInt8 = 1, abandoned: UInt8 = 2
    /// The async handler's task, to cancel it.
    var task: Task<Void, Never>?
    /// Process mode: the request encoded for the worker.
    var frame = ByteBuffer()

    /// Copies the request: `request[0..<bodyEnd]` holds the head and the
    /// decoded body; `path` may lie elsewhere (decoded into loop scratch).
    init(request: UnsafeRawBufferPointer, head: RequestHead, headers: HeaderTable, path: UnsafeRawBufferPointer,
         body: Range<Int>, parameters: RouteParameters, route: CompiledRoutes.Entry, generation: Generation,
         inbox: LoopInbox<LoopMessage>, loopIndex: Int, slot: Int, connectionGeneration: UInt32, sequence: UInt32, startedAt: UInt64) {
        var bytes = ByteBuffer(capacity: body.upperBound + path.count)
        bytes.append(UnsafeRawBufferPointer(rebasing: request[0..<body.upperBound]))
        let pathStart = bytes.count
        bytes.append(path)
        self.bytes = bytes
        self.head = head
        self.headers = HeaderTable(copying: headers)
        self.path = ByteRange(pathStart, pathStart + path.count)
        self.body = ByteRange(body.lowerBound, body.upperBound)
        self.parameters = parameters
        self.route = route
        self.generation = generation
        self.inbox = inbox
        self.loopIndex = loopIndex
        self.slot = slot
        self.connectionGeneration = connectionGeneration
        self.sequence = sequence
        self.startedAt = startedAt
    }

    deinit {
        bytes.release()
        headers.release()
        response.release()
        frame.release()
    }

    /// The request as a handler sees it, over this exchange's own bytes.
    var request: HandlerRequest {
        let buffer = bytes.readable
        return HandlerRequest(buffer: buffer, head: head, headers: headers, path: path.bytes(in: buffer),
                              parameters: parameters, parameterNames: route.parameterNames, body: body.bytes(in: buffer))
    }

    /// Marks it abandoned; true if no thread had started it.
    @discardableResult
    func abandon() -> Bool {
        state.exchange(Exchange.abandoned, ordering: .acquiringAndReleasing) == Exchange.queued
    }
}
