#if canImport(Glibc)
import Glibc
#endif
import CSwitchyardLinux
import SwitchyardEventLoop
import SwitchyardHTTP

/// A connection's bytes: reading and parsing requests, writing answers,
/// closing, timeouts, and the ceiling on buffered memory. The HTTP rules
/// are `ConnectionState`'s; this is where they meet the socket.
extension HTTPLoop {
    typealias Slot = UnsafeMutablePointer<Connection>

    // MARK: Read and process

    func readable(_ c: Slot) {
        if draining, drainIsOverdue { closeConnection(c); return }
        if c.pointee.accounted > 0, isOverBufferShare(c) { pause(c); return }
        let n = retryingOnInterrupt { cswitchyard_read(c.pointee.fd, readBuffer.baseAddress, readBuffer.count) }
        if n == 0 { closeConnection(c); return }
        if n < 0 {
            if errno != EAGAIN && errno != EWOULDBLOCK { closeConnection(c) }
            return
        }
        if c.pointee.http.phase == .lingering { return }   // discard
        date.refresh(monotonicNow: loop.now)
        if c.pointee.input.isEmpty {
            process(c, UnsafeMutableRawBufferPointer(rebasing: readBuffer[0..<n]), inConnectionBuffer: false)
        } else {
            c.pointee.input.append(UnsafeRawBufferPointer(rebasing: readBuffer[0..<n]))
            processBufferedInput(c)
        }
        flush(c)
    }

    /// While the answer is away the connection stays registered for reading,
    /// so a hand-off costs no `epoll_ctl`: what a pipelining client sends
    /// meanwhile waits in the buffer (up to `heldInputLimit`, then reading
    /// stops until the answer is back), and a read of 0 bytes means the
    /// client left — its answer is then not wanted.
    func readWhileAway(_ c: Slot) {
        let n = retryingOnInterrupt { cswitchyard_read(c.pointee.fd, readBuffer.baseAddress, readBuffer.count) }
        if n == 0 { closeConnection(c); return }
        if n < 0 {
            if errno != EAGAIN && errno != EWOULDBLOCK { closeConnection(c) }
            return
        }
        c.pointee.input.append(UnsafeRawBufferPointer(rebasing: readBuffer[0..<n]))
    }

    func processBufferedInput(_ c: Slot) {
        let input = UnsafeMutableRawBufferPointer(start: c.pointee.input.base, count: c.pointee.input.count)
        process(c, input, inConnectionBuffer: true)
    }

    /// Parses and answers the requests in `bytes` one after another,
    /// appending answers to `output`, until the bytes run out or a request's
    /// answer leaves the loop (later ones then wait their turn). What is
    /// left is kept in the connection's own buffer.
    func process(_ c: Slot, _ bytes: UnsafeMutableRawBufferPointer, inConnectionBuffer: Bool) {
        var offset = 0
        let total = bytes.count
        c.pointee.heldBack = false
        requests: while offset < total, c.pointee.http.mayProcessRequests {
            if output.count > Self.outputHighWater {
                c.pointee.heldBack = true   // flush comes back for the rest once this is written
                break
            }
            if draining, drainIsOverdue {
                c.pointee.http.answeredWithError()
                offset = total
                break
            }
            // Past the buffer ceiling, a request held in this connection's
            // buffer waits: its answer would only add to the memory held.
            if inConnectionBuffer, isOverBufferCeiling {
                pause(c)
                break
            }
            if c.pointee.http.phase == .idle {
                let crlf = total - offset >= 2 && bytes[offset] == 0x0D && bytes[offset + 1] == 0x0A
                if c.pointee.http.requestBytesArrive(startWithCRLF: crlf, now: loop.now, timeouts) {
                    offset += 2
                    continue
                }
            }
            let request = UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<total])
            var head = RequestHead()
            switch parser.parse(UnsafeRawBufferPointer(request), into: &head, headers: &headers, scan: &c.pointee.scan) {
            case .incomplete:
                break requests
            case .invalid(let error):
                answerError(error, c)
                offset = total
                break requests
            case .complete:
                if accessLog.isOn {
                    accessLog.begin(head, UnsafeRawBufferPointer(request), again: c.pointee.http.phase == .body,
                                    sampled: &c.pointee.accessLogSampled)
                }
                if !head.keepAlive { c.pointee.http.closeAfterAnswer() }
                let bodyStart = head.headLength
                var bodyEnd = bodyStart
                var consumed = bodyStart
                switch head.framing {
                case .none:
                    break
                case .contentLength(let length):
                    if length > limits.maxBodyBytes {
                        answerError(.bodyTooLarge, c); offset = total; break requests
                    }
                    if request.count - bodyStart < length {
                        if !awaitBody(c, head, UnsafeRawBufferPointer(request), bodyBytesSoFar: request.count - bodyStart,
                                      expectedTotal: bodyStart + length) {
                            offset = total
                        }
                        break requests
                    }
                    bodyEnd = bodyStart + length
                    consumed = bodyEnd
                case .chunked:
                    if !c.pointee.decodingChunked {
                        c.pointee.decodingChunked = true
                        c.pointee.chunkedDecoder = ChunkedDecoder()
                        c.pointee.chunkedRawOffset = bodyStart
                        c.pointee.chunkedBodyEnd = bodyStart
                    }
                    let progress = c.pointee.chunkedDecoder.decode(
                        request, rawOffset: &c.pointee.chunkedRawOffset, bodyEnd: &c.pointee.chunkedBodyEnd,
                        maxBodyBytes: limits.maxBodyBytes)
                    switch progress {
                    case .needMore:
                        if !awaitBody(c, head, UnsafeRawBufferPointer(request), bodyBytesSoFar: c.pointee.chunkedRawOffset - bodyStart,
                                      expectedTotal: 0) {
                            offset = total
                        }
                        break requests
                    case .invalid(let error):
                        answerError(error, c); offset = total; break requests
                    case .done:
                        bodyEnd = c.pointee.chunkedBodyEnd
                        consumed = c.pointee.chunkedRawOffset
                        c.pointee.decodingChunked = false
                    }
                }
                c.pointee.http.requestComplete(hadBody: head.framing != .none)
                c.pointee.scan = HeadScan()
                c.pointee.expectedRequestBytes = 0
                if let pinned = c.pointee.pinned {
                    // Its body spanned reads, maybe a reload too: it finishes
                    // under the generation it began with.
                    c.pointee.pinned = nil
                    let current = routesRef
                    routesRef = .passUnretained(pinned.routes)
                    usesRouteCache = false
                    dispatch(c, head, request, bodyStart..<bodyEnd, pinned: pinned)
                    usesRouteCache = true
                    routesRef = current
                } else {
                    dispatch(c, head, request, bodyStart..<bodyEnd, pinned: nil)
                }
                offset += consumed
                if c.pointee.http.answerAway { break requests }
                if !c.pointee.http.answered(now: loop.now, timeouts) {
                    offset = total   // closing: what follows is not read
                    break requests
                }
            }
        }
        if accessLog.isOn { accessLog.clear() }
        if inConnectionBuffer {
            c.pointee.input.consumeFront(offset)
            if c.pointee.input.isEmpty { c.pointee.input.release() }
        } else if offset < total {
            c.pointee.input.reserveExactly(total: c.pointee.expectedRequestBytes)
            c.pointee.input.append(UnsafeRawBufferPointer(rebasing: bytes[offset..<total]))
        }
    }

    /// The head is complete, the body is not. The first time: route the
    /// request and admit its body against `max_buffered_bytes`, answering at
    /// once when either refuses it — before any `100 Continue`, so a client is
    /// never asked for a body that will not be used. Returns false when it
    /// answered instead.
    private func awaitBody(_ c: Slot, _ head: RequestHead, _ request: UnsafeRawBufferPointer,
                           bodyBytesSoFar: Int, expectedTotal: Int) -> Bool {
        c.pointee.scan = HeadScan()
        if c.pointee.http.phase != .body {
            if !routesBeforeBody(c, head, request) { return false }
            c.pointee.pinned = generation
            let needed = max(expectedTotal, request.count)
            if shared.bufferedBytes.load(ordering: .relaxed) + needed > limits.maxBufferedBytes {
                answerBuffersFull(c, head)
                return false
            }
            c.pointee.expectedRequestBytes = expectedTotal
        }
        let sendContinue = c.pointee.http.awaitingBody(bytesSoFar: bodyBytesSoFar,
                                                       expectsContinue: head.expectContinue && head.versionMinor == 1,
                                                       now: loop.now, timeouts)
        if sendContinue { output.append("HTTP/1.1 100 Continue\r\n\r\n") }
        return true
    }

    // MARK: Write

    /// Writes what `process` produced, in one `write`. A short write keeps
    /// the rest in the connection and waits for EPOLLOUT, not reading
    /// meanwhile. Requests held back wait until the output before them is out.
    func flush(_ c: Slot) {
        while true {
            if output.count > 0 {
                let n = retryingOnInterrupt { cswitchyard_send(c.pointee.fd, output.base, output.count) }
                if n < 0, errno != EAGAIN, errno != EWOULDBLOCK {
                    output.count = 0
                    closeConnection(c)
                    return
                }
                let written = max(n, 0)
                if written < output.count {
                    c.pointee.output.append(UnsafeRawBufferPointer(rebasing: output.readable[written...]))
                    output.count = 0
                    c.pointee.http.writeWasShort(unsent: pendingBytes(c), now: loop.now, timeouts)
                    return
                }
                output.count = 0
            }
            if c.pointee.http.mustCloseAfterWrite { beginLingeringClose(c); return }
            guard c.pointee.heldBack, c.pointee.http.mayProcessRequests else { return }
            processBufferedInput(c)
        }
    }

    func writePending(_ c: Slot) {
        let pending = c.pointee.output.readable
        let n = retryingOnInterrupt { cswitchyard_send(c.pointee.fd, pending.baseAddress, pending.count) }
        if n < 0 {
            if errno != EAGAIN && errno != EWOULDBLOCK { closeConnection(c) }
            return
        }
        c.pointee.output.consumeFront(n)
        guard c.pointee.output.isEmpty else { return }
        c.pointee.output.release()
        c.pointee.http.writeDrained(now: loop.now, timeouts)
        c.pointee.heldBack = c.pointee.heldBack || !c.pointee.input.isEmpty
        flush(c)   // closes when asked to; answers requests held back meanwhile
    }

    /// Bytes not yet read by the client: ours plus what the kernel still holds.
    func pendingBytes(_ c: Slot) -> Int {
        c.pointee.output.count + max(0, Int(cswitchyard_unsent_bytes(c.pointee.fd)))
    }

    /// After any work on a connection: its share of buffered memory and its
    /// epoll interest follow its state. One comparison each when nothing changed.
    @inline(__always) func settle(_ c: Slot) {
        guard c.pointee.isOpen else { return }
        account(c)
        let wanted: UInt32
        if c.pointee.http.writeBlocked {
            wanted = Interest.write.rawValue
        } else if c.pointee.http.answerAway, c.pointee.input.count >= Self.heldInputLimit {
            wanted = cswitchyard_EPOLLRDHUP()
        } else if c.pointee.paused {
            wanted = 0
        } else {
            wanted = Interest.read.rawValue
        }
        if wanted != c.pointee.interest {
            c.pointee.interest = wanted
            let slot = Int(c.pointee.slotIndex)
            try? loop.selector.modify(c.pointee.fd, tag: tag(slot), interest: Interest(rawValue: wanted))
        }
    }

    // MARK: Close

    private func beginLingeringClose(_ c: Slot) {
        guard c.pointee.http.phase != .lingering else { return }
        shutdown(c.pointee.fd, Int32(SHUT_WR))
        c.pointee.http.lingering(now: loop.now, timeouts)
        c.pointee.input.release()
        if c.pointee.paused {
            // Lingering reads only to discard: no memory to wait for.
            c.pointee.paused = false
            pausedCount -= 1
        }
    }

    func closeConnection(_ c: Slot) {
        guard c.pointee.isOpen else { return }
        close(c.pointee.fd)
        rearmReserveDescriptor()
        if let exchange = c.pointee.exchange { abandon(exchange, kill: false) }
        c.pointee.input.release()
        c.pointee.output.release()
        account(c)
        if c.pointee.paused { pausedCount -= 1 }
        let generation = c.pointee.generation
        let slot = c.pointee.slotIndex
        c.pointee = Connection()
        c.pointee.generation = generation
        c.pointee.slotIndex = slot
        table.free(Int(slot))
        openCount -= 1
        shared.openConnections.subtract(1, ordering: .relaxed)
        if draining { finishDrainIfIdle() }
    }

    // MARK: Time

    /// Every 10–250 ms: the state machine of each connection judges its
    /// timeouts and data rates; this carries out what it says.
    func sweep() {
        date.refresh()   // a 408 written here carries the time it is sent
        let now = loop.now
        for slot in 0..<table.usedSlots {
            let c = table[slot]
            guard c.pointee.isOpen else { continue }
            let action = c.pointee.http.checkTimers(
                now: now, timeouts, paused: c.pointee.paused,
                unsent: { pendingBytes(c) }, onlyEmptyLines: { c.pointee.input.holdsOnlyLineEnds })
            switch action {
            case .none:
                continue
            case .close:
                closeConnection(c)
            case .answer(let error):
                answerError(error, c)
                flush(c)
                settle(c)
            }
        }
    }

    // MARK: Buffered memory

    /// Keeps the server's total of buffered bytes in step with this
    /// connection's buffers.
    @inline(__always) func account(_ c: Slot) {
        let held = c.pointee.input.capacity + c.pointee.output.capacity
        let before = c.pointee.accounted
        guard held != before else { return }
        shared.bufferedBytes.add(held - before, ordering: .relaxed)
        if before == 0 { shared.bufferHolders.add(1, ordering: .relaxed) }
        else if held == 0 { shared.bufferHolders.subtract(1, ordering: .relaxed) }
        c.pointee.accounted = held
    }

    var isOverBufferCeiling: Bool {
        shared.bufferedBytes.load(ordering: .relaxed) > limits.maxBufferedBytes
    }

    /// Past `max_buffered_bytes`, a connection holding more than an even
    /// share of it is not read until the total drains.
    private func isOverBufferShare(_ c: Slot) -> Bool {
        guard isOverBufferCeiling else { return false }
        let holders = max(1, shared.bufferHolders.load(ordering: .relaxed))
        return c.pointee.accounted > limits.maxBufferedBytes / holders
    }

    private func pause(_ c: Slot) {
        guard !c.pointee.paused else { return }
        c.pointee.paused = true
        pausedCount += 1
    }

    /// From the sweep: while the total is under the ceiling, read and serve
    /// the paused connections again, one by one, since serving one may fill
    /// it again.
    func resumePausedIfMemoryAllows() {
        guard pausedCount > 0 else { return }
        for slot in 0..<table.usedSlots where table[slot].pointee.paused {
            guard !isOverBufferCeiling else { return }
            let c = table[slot]
            c.pointee.paused = false
            pausedCount -= 1
            c.pointee.http.resumedReading(now: loop.now)
            if !c.pointee.input.isEmpty, c.pointee.http.mayProcessRequests {
                c.pointee.heldBack = true   // flush serves what waits in the buffer
                flush(c)
            }
            settle(c)
        }
    }

    /// Loop scratch that one large answer grew is given back at the end of
    /// the turn, so memory returns to its baseline after a burst.
    @inline(__always)
    func trimScratch() {
        if output.capacity > Self.scratchKeepBytes {
            output.release()
            output = ByteBuffer(capacity: 64 * 1024)
        }
        if compressed.capacity > Self.scratchKeepBytes { compressed.release() }
        response.trim(above: Self.scratchKeepBytes)
    }
}
