#if canImport(Glibc)
import Glibc
#endif
import SwitchyardExecution
import SwitchyardHTTP
import SwitchyardRouting

/// `process`: the handler runs in a child worker process. The workers
/// belong to loop 0; other loops forward their jobs there through its inbox
/// and get answers back through their own. A request travels as one frame:
/// the route's index, the parsed head, the header fields, the path, body
/// and parameter offsets, and the bytes. Both ends are the same binary, so
/// the plain structs are copied as they are.
extension HTTPLoop: ProcessPoolDelegate {
    /// Queues the job (on loop 0) or forwards it; false when the queue is full.
    func sendToWorkers(_ exchange: Exchange) -> Bool {
        exchange.encodeForWorker()
        guard let workers = exchange.generation.workers else { return false }
        if loop.index == 0 { return workers.pool.submit(exchange) }
        shared.workerLoopInbox?.post(.processJob(exchange))
        return true
    }

    /// On loop 0: a job forwarded by another loop.
    func acceptForwardedJob(_ exchange: Exchange) {
        guard let workers = exchange.generation.workers, workers.pool.submit(exchange) else {
            exchange.outcome = .failed(status: 503, reason: "worker queue full")
            exchange.inbox.post(.answer(exchange))
            return
        }
    }

    func cancelWorkerJob(_ exchange: Exchange, kill: Bool) {
        if loop.index == 0 { exchange.generation.workers?.pool.cancel(exchange, kill: kill) }
        else { shared.workerLoopInbox?.post(.cancelProcessJob(exchange, kill: kill)) }
    }

    func processPool(_ pool: ProcessPool, finished job: any ProcessJob, result: UnsafeRawBufferPointer) {
        let exchange = job as! Exchange
        WorkerResult.decode(result, into: exchange)
        returnToOwner(exchange)
    }

    func processPool(_ pool: ProcessPool, failed job: any ProcessJob, reason: String) {
        let exchange = job as! Exchange
        exchange.outcome = .failed(status: 502, reason: reason)
        returnToOwner(exchange)
    }

    private func returnToOwner(_ exchange: Exchange) {
        if exchange.loopIndex == loop.index { deliver(exchange) } else { exchange.inbox.post(.answer(exchange)) }
    }
}

extension Exchange: ProcessJob {
    var payload: UnsafeRawBufferPointer { frame.readable }

    /// The request as a worker reads it (see `WorkerRequest`).
    func encodeForWorker() {
        frame.count = 0
        guard case .process(let workerIndex) = route.action else { preconditionFailure("not a process-mode route") }
        var index = UInt32(workerIndex), headerCount = UInt32(headers.count)
        var head = self.head, path = self.path, body = self.body, parameters = self.parameters
        withUnsafeBytes(of: &index) { frame.append($0) }
        withUnsafeBytes(of: &head) { frame.append($0) }
        withUnsafeBytes(of: &path) { frame.append($0) }
        withUnsafeBytes(of: &body) { frame.append($0) }
        withUnsafeBytes(of: &parameters) { frame.append($0) }
        withUnsafeBytes(of: &headerCount) { frame.append($0) }
        frame.append(headers.fieldBytes)
        frame.append(request.buffer)
    }
}

/// A job frame read back in the worker, as views into the frame.
struct WorkerRequest {
    var routeIndex = 0
    var head = RequestHead()
    var path = ByteRange.empty
    var body = ByteRange.empty
    var parameters = RouteParameters()
    var headerFields = UnsafeRawBufferPointer(start: nil, count: 0)
    var headerCount = 0
    var bytes = UnsafeRawBufferPointer(start: nil, count: 0)

    init?(_ frame: UnsafeRawBufferPointer) {
        var offset = 0
        func read<T>(_ value: inout T) -> Bool {
            let size = MemoryLayout<T>.size
            guard offset + size <= frame.count else { return false }
            withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: frame[offset..<(offset + size)])) }
            offset += size
            return true
        }
        var index: UInt32 = 0, count: UInt32 = 0
        guard read(&index), read(&head), read(&path), read(&body), read(&parameters), read(&count) else { return nil }
        routeIndex = Int(index)
        headerCount = Int(count)
        let fieldsEnd = offset + headerCount * MemoryLayout<HeaderField>.stride
        guard fieldsEnd <= frame.count else { return nil }
        headerFields = UnsafeRawBufferPointer(rebasing: frame[offset..<fieldsEnd])
        bytes = UnsafeRawBufferPointer(rebasing: frame[fieldsEnd...])
        guard Int(path.end) <= bytes.count, Int(body.end) <= bytes.count else { return nil }
    }
}

/// A worker's answer frame: `u16` status, `u8` flags (1: chunked, 2: the
/// handler failed, then the rest is its reason), `u32` header-lines length,
/// the header lines, the body.
enum WorkerResult {
    static let chunked: UInt8 = 1, failed: UInt8 = 2

    static func encode(_ response: Response, to writer: inout FrameWriter, id: UInt32) {
        let lines = response.headerLines.readable, body = response.body.readable
        writer.append(.result, id: id, length: 7 + lines.count + body.count) { out in
            out.storeBytes(of: UInt16(clamping: response.status), toByteOffset: 0, as: UInt16.self)
            out[2] = response.chunked ? chunked : 0
            out.storeBytes(of: UInt32(lines.count), toByteOffset: 3, as: UInt32.self)
            if lines.count > 0 { UnsafeMutableRawBufferPointer(rebasing: out[7...]).copyMemory(from: lines) }
            if body.count > 0 { UnsafeMutableRawBufferPointer(rebasing: out[(7 + lines.count)...]).copyMemory(from: body) }
        }
    }

    static func encodeFailure(_ reason: String, to writer: inout FrameWriter, id: UInt32) {
        let text = Array(reason.utf8)
        writer.append(.result, id: id, length: 3 + text.count) { out in
            out.storeBytes(of: UInt16(500), toByteOffset: 0, as: UInt16.self)
            out[2] = failed
            text.withUnsafeBytes { if !$0.isEmpty { UnsafeMutableRawBufferPointer(rebasing: out[3...]).copyMemory(from: $0) } }
        }
    }

    static func decode(_ result: UnsafeRawBufferPointer, into exchange: Exchange) {
        guard result.count >= 3 else {
            exchange.outcome = .failed(status: 502, reason: "worker sent a malformed answer")
            return
        }
        let status = Int(result.loadUnaligned(as: UInt16.self))
        let flags = result[2]
        if flags & failed != 0 {
            exchange.outcome = .failed(status: 500, reason: String(decoding: result[3...], as: UTF8.self))
            return
        }
        guard result.count >= 7 else {
            exchange.outcome = .failed(status: 502, reason: "worker sent a malformed answer")
            return
        }
        let linesCount = Int(result.loadUnaligned(fromByteOffset: 3, as: UInt32.self))
        guard 7 + linesCount <= result.count else {
            exchange.outcome = .failed(status: 502, reason: "worker sent a malformed answer")
            return
        }
        exchange.response.load(status: status, headerLines: UnsafeRawBufferPointer(rebasing: result[7..<(7 + linesCount)]),
                               body: UnsafeRawBufferPointer(rebasing: result[(7 + linesCount)...]), chunked: flags & chunked != 0)
        exchange.outcome = .answered
    }
}
