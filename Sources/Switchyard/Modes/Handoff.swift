import SwitchyardEventLoop
import SwitchyardExecution
import SwitchyardHTTP

/// What every mode that leaves the loop shares: the exchange is made, the
/// connection holds its later requests, a `timeout_ms` timer is set, and
/// the answer comes back to `deliver` — exactly once per request, in order,
/// or not at all when its client is gone (then it is counted).
extension HTTPLoop {
    func handOff(_ route: CompiledRoutes.Entry, _ generation: Generation, _ c: Slot, _ head: RequestHead,
                 _ request: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer, body: Range<Int>) {
        // A full queue answers at once: never an unbounded wait.
        if case .thread(_, let handle) = route.action,
           handle.pool.queuedCount + pendingJobs(for: handle.pool) >= handle.pool.queueLimit {
            answerQueueFull(c, head)
            return
        }
        handoffSequence = (handoffSequence &+ 1) & 0xFF_FFFF
        let exchange = Exchange(
            request: request, head: head, headers: headers, path: path, body: body, parameters: parameters,
            route: route, generation: generation, inbox: inbox, loopIndex: loop.index, slot: Int(c.pointee.slotIndex),
            connectionGeneration: c.pointee.generation, sequence: handoffSequence, startedAt: MonotonicClock.nowMicroseconds())
        exchange.accessLogged = accessLog.isLogging
        switch route.action {
        case .async(let handler):
            startTask(exchange, handler)
        case .thread(_, let handle):
            queueThreadJob(exchange, handle.pool)
        case .process:
            guard sendToWorkers(exchange) else {
                answerQueueFull(c, head)
                return
            }
        case .fixed, .inline:
            preconditionFailure("route \(route.spec.path) is answered on the loop")
        }
        c.pointee.exchange = exchange
        c.pointee.http.answerHandedOff()
        if route.timeoutMs > 0 {
            loop.scheduleTimer(at: loop.now + route.timeoutMs,
                               tag: EventTag(kind: Self.handoffTimeoutKind, slot: Int(c.pointee.slotIndex),
                                             generation: exchange.sequence).raw)
        }
    }

    /// A pool's or the workers' queue is full.
    func answerQueueFull(_ c: Slot, _ head: RequestHead) {
        answerSimple(503, "busy: the route's queue is full; retry shortly\n", c, head, extraHeader: "Retry-After: 1\r\n")
    }

    // MARK: Answers coming back

    /// Inbox messages: answers from pool threads and other loops, and — on
    /// the loop that owns the workers — jobs for them.
    func takeInbox() {
        inbox.take(into: &inboxBatch)
        date.refresh()
        for message in inboxBatch {
            switch message {
            case .answer(let exchange): deliver(exchange)
            case .processJob(let exchange): acceptForwardedJob(exchange)
            case .cancelProcessJob(let exchange, let kill): exchange.generation.workers?.pool.cancel(exchange, kill: kill)
            case .adopt(let next): adopt(next)
            case .startWorkers(let pool): startWorkers(pool)
            case .stopWorkers(let pool):
                pool.stop()
                workerPools.removeAll { $0 === pool }
            case .retireWorkers(let pool): pool.retire()
            }
        }
        inboxBatch.removeAll(keepingCapacity: true)
    }

    /// An exchange's answer is ready: written to its connection if that is
    /// still the one waiting for it, else dropped and counted.
    func deliver(_ exchange: Exchange) {
        loop.assertInLoop()
        let c = table[exchange.slot]
        guard c.pointee.isOpen, c.pointee.generation == exchange.connectionGeneration, c.pointee.exchange === exchange else {
            lateAnswers += 1
            return
        }
        c.pointee.exchange = nil
        // Draining: this answer is the connection's last.
        if draining || shared.isDraining { c.pointee.http.closeAfterAnswer() }
        if accessLog.isOn { accessLog.resume(exchange) }
        let head = exchange.head
        switch exchange.outcome {
        case .answered:
            writeResponse(exchange.route, head, exchange.request.buffer, exchange.headers, exchange.response, c)
        case .failed(let status, let reason):
            answerFailure(status, reason: reason, exchange, c)
        case .pending:
            // A task ended without an answer: it was cancelled while its client waited.
            answerFailure(500, reason: "handler ended without an answer", exchange, c)
        }
        _ = c.pointee.http.answered(now: loop.now, timeouts)
        c.pointee.heldBack = !c.pointee.input.isEmpty
        flush(c)
        settle(c)
    }

    private func answerFailure(_ status: Int, reason: String, _ exchange: Exchange, _ c: Slot) {
        let head = exchange.head
        switch status {
        case 503:
            answerQueueFull(c, head)
        case 502:
            logger.error("route \(exchange.route.spec.path): \(reason); answered 502")
            answerSimple(502, "the worker running this request failed\n", c, head)
        default:
            logger.error("route \(exchange.route.spec.path): handler \(exchange.route.spec.handler) failed: \(reason)")
            answerSimple(500, "handler failed\n", c, head)
        }
    }

    /// `timeout_ms` passed with the answer still away: 504 now; the work
    /// is abandoned (a worker is killed, a task cancelled, a thread's late
    /// result dropped).
    func handoffTimedOut(_ tag: EventTag) {
        guard tag.slot < table.usedSlots else { return }
        let c = table[tag.slot]
        guard c.pointee.isOpen, let exchange = c.pointee.exchange, exchange.sequence == tag.generation else { return }
        c.pointee.exchange = nil
        abandon(exchange, kill: true)
        if draining || shared.isDraining { c.pointee.http.closeAfterAnswer() }
        date.refresh()
        if accessLog.isOn { accessLog.resume(exchange) }
        answerSimple(504, "the handler did not answer within timeout_ms\n", c, exchange.head)
        _ = c.pointee.http.answered(now: loop.now, timeouts)
        c.pointee.heldBack = !c.pointee.input.isEmpty
        flush(c)
        settle(c)
    }

    /// The answer is no longer wanted (client gone, or timed out).
    func abandon(_ exchange: Exchange, kill: Bool) {
        exchange.abandon()
        switch exchange.route.action {
        case .async:
            exchange.task?.cancel()
        case .process:
            cancelWorkerJob(exchange, kill: kill)
        case .thread, .fixed, .inline:
            break   // a thread that started finishes on its own; its answer is dropped
        }
    }
}
