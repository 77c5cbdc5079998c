#if canImport(Glibc)
import Glibc
#endif
import CSwitchyardLinux
import Logging
import SwitchyardCompression
import SwitchyardConfig
import SwitchyardEventLoop
import SwitchyardHTTP
import SwitchyardRouting

/// The HTTP/1.1 server of one event loop: accepts, reads, parses, dispatches
/// and writes for the connections it owns. Confined to its loop thread: other
/// threads reach it only through `EventLoop.execute`.
///
/// The request path allocates nothing in steady state: one 64 KiB read buffer
/// per loop, a flat table of connection structs, one output buffer that
/// gathers every response produced from one read so they leave in one `write`.
final class HTTPLoop: EventLoopHandler, @unchecked Sendable {
    static let connectionKind: UInt8 = 0
    static let listenerKind: UInt8 = 1
    static let sweepTimer: UInt64 = 1
    static let resumeAcceptTimer: UInt64 = 2
    static let drainDeadlineTimer: UInt64 = 3

    static let readBufferSize = 64 * 1024
    /// Stop taking pipelined requests from a read once this much output waits.
    static let outputHighWater = 1 << 20
    static let lingerMilliseconds: UInt64 = 2000
    static let drainIdleGraceMilliseconds = 1000
    /// Loop scratch that grew past this for one large answer is given back.
    static let scratchKeepBytes = 1 << 20

    let loop: EventLoop
    let shared: ServerShared
    let logger: Logger
    var routes: CompiledRoutes
    let limits: Limits
    let parser: RequestParser

    // Connection table: slots in a manually grown array so a pointer to one
    // stays valid while it is processed (no exclusivity checks, no copies).
    var table: UnsafeMutablePointer<Connection>
    var tableCapacity: Int
    var usedSlots = 0          // slots below this have been handed out at least once
    var freeSlots: [Int32] = []
    var openCount = 0

    let readBuffer: UnsafeMutableRawBufferPointer
    var output = ByteBuffer(capacity: 64 * 1024)
    var headers = HeaderTable()
    var response = Response()
    var pathScratch = ByteBuffer(capacity: 1024)
    var compressed = ByteBuffer()
    var parameters = RouteParameters()
    let deflater: Deflater
    var date = DateCache()

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

    /// Nil when zlib cannot get memory for this loop's streams.
    init?(loop: EventLoop, shared: ServerShared, routes: CompiledRoutes, logger: Logger) {
        guard let deflater = Deflater(level: routes.compression.level) else { return nil }
        self.deflater = deflater
        self.loop = loop
        self.shared = shared
        self.routes = routes
        self.logger = logger
        self.limits = shared.limits
        self.parser = RequestParser(maxHeaderBytes: limits.maxHeaderBytes, maxTargetBytes: limits.maxTargetBytes)
        tableCapacity = 1024
        table = .allocate(capacity: tableCapacity)
        table.initialize(repeating: Connection(), count: tableCapacity)
        readBuffer = .allocate(byteCount: Self.readBufferSize, alignment: 16)
        reserveFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
    }

    // MARK: Registration

    func start() {
        registerListeners()
        loop.scheduleTimer(at: loop.now + sweepInterval, tag: Self.sweepTimer)
    }

    var sweepInterval: UInt64 {
        UInt64(max(10, min(250, min(limits.headerTimeoutMs, limits.idleTimeoutMs) / 4)))
    }

    func registerListeners() {
        guard !listenersRegistered, !draining else { return }
        for (i, listener) in shared.listeners.enumerated() {
            do {
                try loop.selector.add(listener.fd, tag: EventTag(kind: Self.listenerKind, slot: i, generation: 0).raw,
                                      interest: [.read, .exclusive])
            } catch {
                logger.error("cannot watch listener \(listener.boundDescription): \(error)")
            }
        }
        listenersRegistered = true
    }

    func unregisterListeners() {
        guard listenersRegistered else { return }
        for listener in shared.listeners { loop.selector.remove(listener.fd) }
        listenersRegistered = false
    }

    // MARK: Events

    func handleEvent(tag: EventTag, events: UInt32, loop: EventLoop) {
        if tag.kind == Self.listenerKind {
            acceptConnections(from: shared.listeners[tag.slot])
            return
        }
        let slot = tag.slot
        guard slot < usedSlots else { return }
        let c = table + slot
        // A stale event for a connection closed earlier in this batch.
        guard c.pointee.phase != .free, c.pointee.generation & 0xFF_FFFF == tag.generation else { return }
        let hangUp = cswitchyard_EPOLLHUP() | cswitchyard_EPOLLERR()
        if c.pointee.wantsWrite {
            // Not reading while earlier responses wait to be written: answers stay in order.
            if events & hangUp != 0 { closeConnection(c) }
            else if events & Interest.write.rawValue != 0 { writePending(c) }
        } else if c.pointee.paused {
            if events & hangUp != 0 { closeConnection(c) }
        } else if events & (Interest.read.rawValue | hangUp) != 0 {
            readable(c)
        }
        account(c)
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
            for slot in 0..<usedSlots where table[slot].phase != .free { closeConnection(table + slot) }
            finishDrainIfIdle()
        default:
            break
        }
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
                case EINVAL: unregisterListeners(); return   // shut down for draining
                default:
                    logger.warning("accept on \(listener.boundDescription): \(SystemError("accept4", errno: errno))")
                    return
                }
            }
            // Past max_connections, new connections are closed at once.
            if shared.openConnections.add(1, ordering: .relaxed).newValue > limits.maxConnections {
                shared.openConnections.subtract(1, ordering: .relaxed)
                close(fd)
                continue
            }
            if !listener.isUnix {
                var on: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            }
            let slot = allocateSlot()
            let c = table + slot
            c.pointee.fd = fd
            c.pointee.generation &+= 1
            c.pointee.phase = .awaitingRequest
            c.pointee.deadline = loop.now + UInt64(limits.headerTimeoutMs)
            c.pointee.peer = Self.peerAddress(&address, isUnix: listener.isUnix)
            c.pointee.isUnixPeer = listener.isUnix
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

    private func rearmReserveDescriptor() {
        if reserveFD < 0 { reserveFD = open("/dev/null", O_RDONLY | O_CLOEXEC) }
    }

    private func allocateSlot() -> Int {
        if let slot = freeSlots.popLast() { return Int(slot) }
        if usedSlots == tableCapacity {
            let newCapacity = tableCapacity * 2
            let newTable = UnsafeMutablePointer<Connection>.allocate(capacity: newCapacity)
            newTable.moveInitialize(from: table, count: tableCapacity)
            (newTable + tableCapacity).initialize(repeating: Connection(), count: newCapacity - tableCapacity)
            table.deallocate()
            table = newTable
            tableCapacity = newCapacity
        }
        usedSlots += 1
        return usedSlots - 1
    }

    @inline(__always) func tag(_ slot: Int) -> UInt64 {
        EventTag(kind: Self.connectionKind, slot: slot, generation: table[slot].generation).raw
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

    // MARK: Read and process

    private func readable(_ c: UnsafeMutablePointer<Connection>) {
        if draining, drainIsOverdue { closeConnection(c); return }
        if c.pointee.accounted > 0, isOverBufferShare(c) { pause(c); return }
        let n = retryingOnInterrupt { read(c.pointee.fd, readBuffer.baseAddress, readBuffer.count) }
        if n == 0 { closeConnection(c); return }
        if n < 0 {
            if errno != EAGAIN && errno != EWOULDBLOCK { closeConnection(c) }
            return
        }
        if c.pointee.phase == .lingering { return }   // discard
        date.refresh()
        if c.pointee.input.isEmpty {
            process(c, UnsafeMutableRawBufferPointer(rebasing: readBuffer[0..<n]), inConnectionBuffer: false)
        } else {
            c.pointee.input.append(UnsafeRawBufferPointer(rebasing: readBuffer[0..<n]))
            processBufferedInput(c)
        }
        flush(c)
        trimScratch()
    }

    private func processBufferedInput(_ c: UnsafeMutablePointer<Connection>) {
        let input = UnsafeMutableRawBufferPointer(start: c.pointee.input.base, count: c.pointee.input.count)
        process(c, input, inConnectionBuffer: true)
    }

    /// Parses and answers every complete request in `bytes`, appending the
    /// responses to `output`. What is left (a partial request) is kept in the
    /// connection's own buffer.
    private func process(_ c: UnsafeMutablePointer<Connection>, _ bytes: UnsafeMutableRawBufferPointer, inConnectionBuffer: Bool) {
        var offset = 0
        let total = bytes.count
        c.pointee.heldBack = false
        requests: while offset < total {
            if output.count > Self.outputHighWater {
                c.pointee.heldBack = true   // flush comes back for the rest once this is written
                break
            }
            if draining, drainIsOverdue {
                c.pointee.closeAfterWrite = true
                offset = total
                break
            }
            // Past the buffer ceiling, a request held in this connection's
            // buffer waits: its answer would only add to the memory held.
            if inConnectionBuffer, isOverBufferCeiling {
                pause(c)
                break
            }
            if c.pointee.phase == .awaitingRequest {
                // One CRLF right after a body belongs to that request: some
                // clients send it (RFC 9112 §2.2). Any other empty line is
                // part of the next head, and its timer starts at its first
                // byte: a client trickling CRLF must not hold the connection.
                if c.pointee.followsBody {
                    c.pointee.followsBody = false
                    if total - offset >= 2, bytes[offset] == 0x0D, bytes[offset + 1] == 0x0A {
                        offset += 2
                        continue
                    }
                }
                c.pointee.phase = .receiving
                c.pointee.deadline = loop.now + UInt64(limits.headerTimeoutMs)
            }
            let request = UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<total])
            switch parser.parse(UnsafeRawBufferPointer(request), headers: &headers, scan: &c.pointee.scan) {
            case .incomplete:
                break requests
            case .invalid(let error):
                answerError(error, c)
                offset = total
                break requests
            case .complete(let head):
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
                let body = UnsafeRawBufferPointer(rebasing: request[bodyStart..<bodyEnd])
                dispatch(c, head, UnsafeRawBufferPointer(request), body)
                offset += consumed
                c.pointee.followsBody = head.framing != .none
                c.pointee.scan = HeadScan()
                c.pointee.sentContinue = false
                c.pointee.receivingBody = false
                c.pointee.expectedRequestBytes = 0
                if c.pointee.closeAfterWrite {
                    offset = total
                    break requests
                }
                c.pointee.phase = .awaitingRequest
            }
        }
        if inConnectionBuffer {
            c.pointee.input.consumeFront(offset)
            if c.pointee.input.isEmpty { c.pointee.input.release() }
        } else if offset < total {
            c.pointee.input.reserveExactly(total: c.pointee.expectedRequestBytes)
            c.pointee.input.append(UnsafeRawBufferPointer(rebasing: bytes[offset..<total]))
        }
        if c.pointee.phase == .awaitingRequest, c.pointee.input.isEmpty {
            c.pointee.deadline = loop.now + UInt64(draining ? 0 : limits.idleTimeoutMs)
        }
    }

    /// The head is complete, the body is not. The first time: route the
    /// request and admit its body against `max_buffered_bytes`, answering at
    /// once when either refuses it — before any `100 Continue`, so a client is
    /// never asked for a body that will not be used. Then answer
    /// `Expect: 100-continue` once, and give the body the idle timeout
    /// between reads. Returns false when it answered instead.
    private func awaitBody(_ c: UnsafeMutablePointer<Connection>, _ head: RequestHead, _ request: UnsafeRawBufferPointer,
                           bodyBytesSoFar: Int, expectedTotal: Int) -> Bool {
        c.pointee.scan = HeadScan()
        if !c.pointee.receivingBody {
            if !routesBeforeBody(c, head, request) { return false }
            let needed = max(expectedTotal, request.count)
            if shared.bufferedBytes.load(ordering: .relaxed) + needed > limits.maxBufferedBytes {
                answerBuffersFull(c, head)
                return false
            }
            c.pointee.receivingBody = true
            c.pointee.rateWindowStart = loop.now
            c.pointee.rateWindowMark = bodyBytesSoFar
            c.pointee.expectedRequestBytes = expectedTotal
        }
        c.pointee.bodyBytes = bodyBytesSoFar
        c.pointee.deadline = loop.now + UInt64(limits.idleTimeoutMs)
        if head.expectContinue, head.versionMinor == 1, !c.pointee.sentContinue, bodyBytesSoFar == 0 {
            output.append("HTTP/1.1 100 Continue\r\n\r\n")
            c.pointee.sentContinue = true
        }
        return true
    }

    // MARK: Buffered memory

    /// Keeps the server's total of buffered bytes in step with this
    /// connection's buffers. One comparison when nothing changed.
    @inline(__always) private func account(_ c: UnsafeMutablePointer<Connection>) {
        let held = c.pointee.input.capacity + c.pointee.output.capacity
        let before = c.pointee.accounted
        guard held != before else { return }
        shared.bufferedBytes.add(held - before, ordering: .relaxed)
        if before == 0 { shared.bufferHolders.add(1, ordering: .relaxed) }
        else if held == 0 { shared.bufferHolders.subtract(1, ordering: .relaxed) }
        c.pointee.accounted = held
    }

    private var isOverBufferCeiling: Bool {
        shared.bufferedBytes.load(ordering: .relaxed) > limits.maxBufferedBytes
    }

    /// Past `max_buffered_bytes`, a connection holding more than an even
    /// share of it is not read until the total drains.
    private func isOverBufferShare(_ c: UnsafeMutablePointer<Connection>) -> Bool {
        guard isOverBufferCeiling else { return false }
        let holders = max(1, shared.bufferHolders.load(ordering: .relaxed))
        return c.pointee.accounted > limits.maxBufferedBytes / holders
    }

    private func pause(_ c: UnsafeMutablePointer<Connection>) {
        guard !c.pointee.paused else { return }
        c.pointee.paused = true
        pausedCount += 1
        try? loop.selector.modify(c.pointee.fd, tag: tag(table.distance(to: c)), interest: [])
    }

    /// From the sweep: while the total is under the ceiling, read and serve
    /// the paused connections again, one by one, since serving one may fill
    /// it again. Time spent paused is not held against a body's data rate.
    private func resumePausedIfMemoryAllows() {
        guard pausedCount > 0 else { return }
        for slot in 0..<usedSlots where table[slot].paused {
            guard !isOverBufferCeiling else { return }
            let c = table + slot
            c.pointee.paused = false
            pausedCount -= 1
            c.pointee.rateWindowStart = loop.now
            c.pointee.rateWindowMark = c.pointee.bodyBytes
            try? loop.selector.modify(c.pointee.fd, tag: tag(slot), interest: .read)
            if !c.pointee.input.isEmpty, !c.pointee.wantsWrite {
                c.pointee.heldBack = true   // flush serves what waits in the buffer
                flush(c)
            }
            account(c)
        }
    }

    /// Loop scratch that one large answer grew is given back, so memory
    /// returns to its baseline after a burst.
    private func trimScratch() {
        if output.capacity > Self.scratchKeepBytes {
            output.release()
            output = ByteBuffer(capacity: 64 * 1024)
        }
        if compressed.capacity > Self.scratchKeepBytes { compressed.release() }
        response.trim(above: Self.scratchKeepBytes)
    }

    // MARK: Write

    /// Writes what `process` produced, in one `write`. A short write keeps
    /// the rest in the connection and waits for EPOLLOUT, not reading meanwhile.
    /// Requests the output high-water mark held back are answered once the
    /// output before them is out.
    private func flush(_ c: UnsafeMutablePointer<Connection>) {
        while true {
            if output.count > 0 {
                let n = retryingOnInterrupt { send(c.pointee.fd, output.base, output.count, Int32(MSG_NOSIGNAL)) }
                if n < 0, errno != EAGAIN, errno != EWOULDBLOCK {
                    output.count = 0
                    closeConnection(c)
                    return
                }
                let written = max(n, 0)
                if written < output.count {
                    c.pointee.output.append(UnsafeRawBufferPointer(rebasing: output.readable[written...]))
                    output.count = 0
                    waitForWritable(c)
                    return
                }
                output.count = 0
            }
            if c.pointee.closeAfterWrite { beginLingeringClose(c); return }
            guard c.pointee.heldBack else { return }
            processBufferedInput(c)
        }
    }

    private func waitForWritable(_ c: UnsafeMutablePointer<Connection>) {
        c.pointee.wantsWrite = true
        c.pointee.pendingAtCheck = pendingBytes(c)
        c.pointee.rateWindowStart = loop.now
        c.pointee.rateWindowMark = c.pointee.pendingAtCheck
        c.pointee.deadline = loop.now + UInt64(limits.idleTimeoutMs)
        let slot = table.distance(to: c)
        try? loop.selector.modify(c.pointee.fd, tag: tag(slot), interest: .write)
    }

    private func writePending(_ c: UnsafeMutablePointer<Connection>) {
        let pending = c.pointee.output.readable
        let n = retryingOnInterrupt { send(c.pointee.fd, pending.baseAddress, pending.count, Int32(MSG_NOSIGNAL)) }
        if n < 0 {
            if errno != EAGAIN && errno != EWOULDBLOCK { closeConnection(c) }
            return
        }
        c.pointee.output.consumeFront(n)
        guard c.pointee.output.isEmpty else { return }
        c.pointee.output.release()
        c.pointee.wantsWrite = false
        c.pointee.rateWindowStart = loop.now   // a body in progress is judged afresh
        c.pointee.rateWindowMark = c.pointee.bodyBytes
        let slot = table.distance(to: c)
        try? loop.selector.modify(c.pointee.fd, tag: tag(slot), interest: .read)
        switch c.pointee.phase {
        case .awaitingRequest where c.pointee.input.isEmpty:
            c.pointee.deadline = loop.now + UInt64(draining ? 0 : limits.idleTimeoutMs)
        case .receiving:
            c.pointee.deadline = loop.now + UInt64(limits.headerTimeoutMs)
        default:
            break
        }
        flush(c)   // closes when asked to; answers requests held back meanwhile
    }

    // MARK: Close

    private func beginLingeringClose(_ c: UnsafeMutablePointer<Connection>) {
        guard c.pointee.phase != .lingering else { return }
        shutdown(c.pointee.fd, Int32(SHUT_WR))
        c.pointee.phase = .lingering
        c.pointee.input.release()
        account(c)
        if c.pointee.paused {
            // Lingering reads only to discard: no memory to wait for.
            c.pointee.paused = false
            pausedCount -= 1
            try? loop.selector.modify(c.pointee.fd, tag: tag(table.distance(to: c)), interest: .read)
        }
        c.pointee.deadline = loop.now + Self.lingerMilliseconds
    }

    func closeConnection(_ c: UnsafeMutablePointer<Connection>) {
        guard c.pointee.phase != .free else { return }
        close(c.pointee.fd)
        rearmReserveDescriptor()
        c.pointee.releaseBuffers()
        account(c)
        if c.pointee.paused { pausedCount -= 1 }
        let generation = c.pointee.generation
        c.pointee = Connection()
        c.pointee.generation = generation
        freeSlots.append(Int32(table.distance(to: c)))
        openCount -= 1
        shared.openConnections.subtract(1, ordering: .relaxed)
        if draining { finishDrainIfIdle() }
    }

    /// Every 10–250 ms: close connections whose head, idle, write or linger
    /// time is up, or whose body or answer moves slower than the minimum
    /// data rate. A partial head or body gets 408 first; a connection that
    /// sent only empty lines never began a request and is closed silently.
    private func sweep() {
        date.refresh()   // a 408 written here carries the time it is sent
        let now = loop.now
        for slot in 0..<usedSlots {
            let c = table + slot
            guard c.pointee.phase != .free else { continue }
            if limits.minDataRateBytesPerSecond > 0, isBelowMinimumRate(c, now: now) {
                if c.pointee.wantsWrite {
                    closeConnection(c)
                } else {
                    answerError(.bodyTooSlow, c)
                    flush(c)
                    account(c)
                }
                continue
            }
            guard c.pointee.deadline <= now else { continue }
            if c.pointee.wantsWrite, clientIsReading(c) {
                c.pointee.deadline = now + UInt64(limits.idleTimeoutMs)
                continue
            }
            switch c.pointee.phase {
            case .receiving where !c.pointee.wantsWrite && !c.pointee.receivingBody && c.pointee.input.holdsOnlyLineEnds:
                closeConnection(c)   // it never began a request: no 408 it could take for another's answer
            case .receiving where !c.pointee.wantsWrite:
                answerError(c.pointee.receivingBody ? .bodyTimeout : .headerTimeout, c)
                flush(c)
                account(c)
            default:
                closeConnection(c)
            }
        }
    }

    /// A body arriving, or an answer being read, slower than
    /// `min_data_rate_bytes_per_s` over a window of at least the grace period
    /// (Kestrel's minimum data rate, judged per window rather than on the
    /// average since the start, so a fast start cannot buy a long stall).
    private func isBelowMinimumRate(_ c: UnsafeMutablePointer<Connection>, now: UInt64) -> Bool {
        let writing = c.pointee.wantsWrite
        guard writing || (c.pointee.receivingBody && !c.pointee.paused && c.pointee.phase == .receiving) else { return false }
        let elapsed = now - c.pointee.rateWindowStart
        guard elapsed >= UInt64(Limits.minDataRateGraceMs) else { return false }
        let mark = writing ? pendingBytes(c) : c.pointee.bodyBytes
        let moved = writing ? c.pointee.rateWindowMark - mark : mark - c.pointee.rateWindowMark
        if moved * 1000 < limits.minDataRateBytesPerSecond * Int(elapsed) { return true }
        c.pointee.rateWindowStart = now
        c.pointee.rateWindowMark = mark
        return false
    }

    /// The write timeout is about progress, not the whole answer: a client
    /// that keeps reading keeps its connection. EPOLLOUT comes only once a
    /// third of the send buffer is free, so progress is measured directly:
    /// the bytes not yet sent, ours plus the kernel's, went down since the
    /// last check.
    private func clientIsReading(_ c: UnsafeMutablePointer<Connection>) -> Bool {
        let pending = pendingBytes(c)
        defer { c.pointee.pendingAtCheck = pending }
        return pending < c.pointee.pendingAtCheck
    }

    private func pendingBytes(_ c: UnsafeMutablePointer<Connection>) -> Int {
        c.pointee.output.count + max(0, Int(cswitchyard_unsent_bytes(c.pointee.fd)))
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
        let grace = loop.now + UInt64(min(Self.drainIdleGraceMilliseconds, limits.idleTimeoutMs))
        for slot in 0..<usedSlots {
            let c = table + slot
            if c.pointee.phase == .awaitingRequest, c.pointee.input.isEmpty, !c.pointee.wantsWrite {
                c.pointee.deadline = min(c.pointee.deadline, grace)
            }
        }
        loop.scheduleTimer(at: loop.now + UInt64(limits.shutdownTimeoutMs), tag: Self.drainDeadlineTimer)
        finishDrainIfIdle()
    }

    /// Read from the clock, not the turn's cached time: a turn that runs
    /// slow handlers must notice the deadline inside the turn.
    private var drainIsOverdue: Bool { MonotonicClock.nowMilliseconds() >= drainDeadline }

    private func finishDrainIfIdle() {
        if draining, openCount == 0 { loop.stop() }
    }

    deinit {
        for slot in 0..<usedSlots where table[slot].phase != .free { closeConnection(table + slot) }
        table.deinitialize(count: tableCapacity)
        table.deallocate()
        readBuffer.deallocate()
        output.release(); headers.release(); response.release(); pathScratch.release(); compressed.release()
        if reserveFD >= 0 { close(reserveFD) }
    }
}
