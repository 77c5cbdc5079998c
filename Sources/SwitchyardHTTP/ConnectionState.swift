/// The timeouts and rates a connection's state machine applies. One per loop.
public struct ConnectionTimeouts: Sendable {
    /// The whole head (and any empty lines before it) must arrive within this.
    public var headerMs: UInt64
    /// Keep-alive idle, a body's gap between reads, a stalled write.
    public var idleMs: UInt64
    /// How long a closing connection reads and discards so its last answer is not lost to a reset.
    public var lingerMs: UInt64 = 2000
    /// Idle keep-alive connections get this long to ask once more when a drain begins.
    public var drainIdleGraceMs: UInt64 = 1000
    /// A body sent or an answer read slower than this (bytes per second, per
    /// window of at least `minDataRateGraceMs`) is cut; 0 turns it off.
    public var minDataRate: Int
    public var minDataRateGraceMs: UInt64 = 5000

    public init(headerMs: UInt64, idleMs: UInt64, minDataRate: Int) {
        self.headerMs = headerMs; self.idleMs = idleMs; self.minDataRate = minDataRate
    }
}

/// What a connection's timer check asks the loop to do.
public enum ConnectionTimeoutAction: Equatable, Sendable {
    case none
    /// Close without a word: nothing was asked, or nothing can be said.
    case close
    /// Answer this error (408), then close.
    case answer(RequestError)
}

/// The HTTP/1.1 state of one connection, without its socket: which part of
/// a request is arriving, whether the answer is away (a pool, a worker, an
/// await) so later pipelined requests wait, whether a write is blocked,
/// keep-alive, `100 Continue`, lingering close, the drain, and every
/// timeout and minimum data rate. The loop feeds it events with the time
/// (`now`, monotonic ms) and acts on what it says; tests drive it with
/// any clock they like.
///
/// A plain struct in the connection table; every method is inlinable and
/// allocation-free, because the request path calls them per request.
public struct ConnectionState: Sendable {
    public enum Phase: UInt8, Sendable {
        /// Between requests: no byte of the next one yet.
        case idle
        /// Part of a head has arrived (empty lines count); the head timer runs.
        case head
        /// The head is in, the body is arriving.
        case body
        /// The request is complete; its answer is being made, here or away.
        case answering
        /// The last answer is out and the write side shut; reading only to discard.
        case lingering
    }

    @usableFromInline var _phase: Phase = .idle
    @inlinable public var phase: Phase { _phase }
    /// When the current timeout fires (monotonic ms).
    @usableFromInline var _deadline: UInt64 = 0
    @inlinable public var deadline: UInt64 { _deadline }
    /// The connection ends after the answer in progress (no keep-alive, an
    /// error, the drain).
    @usableFromInline var _closesAfterAnswer = false
    @inlinable public var closesAfterAnswer: Bool { _closesAfterAnswer }
    /// The answer was handed off; requests after it wait in the buffer.
    @usableFromInline var _answerAway = false
    @inlinable public var answerAway: Bool { _answerAway }
    /// Answer bytes wait for the socket to take them; nothing is read meanwhile.
    @usableFromInline var _writeBlocked = false
    @inlinable public var writeBlocked: Bool { _writeBlocked }
    @usableFromInline var _continueSent = false
    @inlinable public var continueSent: Bool { _continueSent }
    /// The last request had a body: one CRLF right after it is not a new head.
    @usableFromInline var followsBody = false
    /// Raw bytes of the body so far.
    @usableFromInline var _bodyBytes = 0
    @inlinable public var bodyBytes: Int { _bodyBytes }
    /// The minimum-rate window: when it began and where the transfer then
    /// stood (body bytes received, or answer bytes the client had not read).
    @usableFromInline var rateWindowStart: UInt64 = 0
    @usableFromInline var rateWindowMark = 0
    /// While a write is blocked: bytes unread at the last check, to tell a
    /// slow reader (progress) from a stalled one.
    @usableFromInline var unsentAtCheck = 0

    @inlinable public init() {}

    /// A new connection: it must send a head within the head timeout.
    @inlinable public mutating func opened(now: UInt64, _ t: ConnectionTimeouts) {
        self = ConnectionState()
        _deadline = now + t.headerMs
    }

    /// Whether the loop may parse another request now.
    @inlinable public var mayProcessRequests: Bool {
        !answerAway && !writeBlocked && phase != .lingering
    }

    // MARK: Requests

    /// Bytes of the next request are about to be parsed. Returns true when
    /// they start with the CRLF a client sent after its last body (RFC 9112
    /// §2.2): the caller skips those two bytes and asks again. Any other
    /// byte, an empty line's too, starts the head timer.
    @inlinable public mutating func requestBytesArrive(startWithCRLF: Bool, now: UInt64, _ t: ConnectionTimeouts) -> Bool {
        guard phase == .idle else { return false }
        if followsBody {
            followsBody = false
            if startWithCRLF { return true }
        }
        _phase = .head
        _deadline = now + t.headerMs
        return false
    }

    /// The connection will close once the answer in progress is out.
    @inlinable public mutating func closeAfterAnswer() { _closesAfterAnswer = true }

    /// The head is complete but the body is not. The first call for a request
    /// comes after routing and admission have accepted it; returns true when
    /// `100 Continue` should be sent now (once, and only before any body byte).
    @inlinable public mutating func awaitingBody(bytesSoFar: Int, expectsContinue: Bool, now: UInt64,
                                                 _ t: ConnectionTimeouts) -> Bool {
        if phase != .body {
            _phase = .body
            rateWindowStart = now
            rateWindowMark = bytesSoFar
        }
        _bodyBytes = bytesSoFar
        _deadline = now + t.idleMs
        if expectsContinue, !continueSent, bytesSoFar == 0 {
            _continueSent = true
            return true
        }
        return false
    }

    /// The whole request is in; its answer is to be made.
    @inlinable public mutating func requestComplete(hadBody: Bool) {
        _phase = .answering
        _continueSent = false
        followsBody = hadBody
        _bodyBytes = 0
    }

    /// The request cannot be served or framed: its error answer is the last.
    @inlinable public mutating func answeredWithError() {
        _closesAfterAnswer = true
        _phase = .answering
        _answerAway = false
    }

    /// The closing answer has been made: once it is written, linger.
    @inlinable public var mustCloseAfterWrite: Bool {
        _closesAfterAnswer && _phase == .answering && !_answerAway
    }

    /// The loop reads again after a pause: a body's rate is judged afresh.
    @inlinable public mutating func resumedReading(now: UInt64) {
        rateWindowStart = now
        rateWindowMark = _bodyBytes
    }

    /// The answer left the loop; later requests wait until it is back.
    @inlinable public mutating func answerHandedOff() { _answerAway = true }

    /// The answer is in the output. Returns true when the connection goes
    /// on to its next request, false when it is to close (flush, then linger).
    @inlinable public mutating func answered(now: UInt64, _ t: ConnectionTimeouts) -> Bool {
        _answerAway = false
        if closesAfterAnswer { return false }
        _phase = .idle
        _deadline = now + t.idleMs
        return true
    }

    // MARK: Writing

    /// A write left `unsent` bytes (ours plus the kernel's): the rest waits
    /// for the socket, and reading stops so answers stay in order.
    @inlinable public mutating func writeWasShort(unsent: Int, now: UInt64, _ t: ConnectionTimeouts) {
        if !writeBlocked {
            rateWindowStart = now
            rateWindowMark = unsent
        }
        _writeBlocked = true
        unsentAtCheck = unsent
        _deadline = now + t.idleMs
    }

    /// Every answer byte has reached the socket.
    @inlinable public mutating func writeDrained(now: UInt64, _ t: ConnectionTimeouts) {
        _writeBlocked = false
        rateWindowStart = now   // a body in progress is judged afresh
        rateWindowMark = bodyBytes
        switch phase {
        case .idle, .body: _deadline = now + t.idleMs
        case .head: _deadline = now + t.headerMs
        case .answering, .lingering: break
        }
    }

    /// The last answer is out: shut the write side, discard until the
    /// client closes or the linger time passes.
    @inlinable public mutating func lingering(now: UInt64, _ t: ConnectionTimeouts) {
        _phase = .lingering
        _deadline = now + t.lingerMs
    }

    // MARK: Time

    /// The drain began: an idle keep-alive connection gets a short grace to
    /// ask once more (its answer will say `Connection: close`).
    @inlinable public mutating func drainBegan(now: UInt64, _ t: ConnectionTimeouts) {
        if phase == .idle, !writeBlocked, !answerAway {
            _deadline = min(deadline, now + min(t.drainIdleGraceMs, t.idleMs))
        }
    }

    /// From the loop's periodic sweep. `unsent` reports the bytes the client
    /// has not read yet (asked only while a write is blocked); `onlyEmptyLines`
    /// whether the bytes held are all CR and LF; `paused` whether the loop has
    /// stopped reading this connection (its body is then not judged).
    @inlinable public mutating func checkTimers(now: UInt64, _ t: ConnectionTimeouts, paused: Bool,
                                                unsent: () -> Int, onlyEmptyLines: () -> Bool) -> ConnectionTimeoutAction {
        if t.minDataRate > 0, writeBlocked || (phase == .body && !paused && !answerAway) {
            let elapsed = now &- rateWindowStart
            if elapsed >= t.minDataRateGraceMs {
                let mark = writeBlocked ? unsent() : bodyBytes
                let moved = writeBlocked ? rateWindowMark - mark : mark - rateWindowMark
                if moved * 1000 < t.minDataRate * Int(elapsed) {
                    return writeBlocked ? .close : .answer(.bodyTooSlow)
                }
                rateWindowStart = now
                rateWindowMark = mark
            }
        }
        guard deadline <= now, !answerAway else { return .none }
        if writeBlocked {
            // EPOLLOUT comes only once a third of the send buffer is free, so
            // progress is measured directly: fewer bytes unread than last time.
            let pending = unsent()
            defer { unsentAtCheck = pending }
            if pending < unsentAtCheck {
                _deadline = now + t.idleMs
                return .none
            }
            return .close
        }
        switch phase {
        case .head:
            // Only empty lines: it never began a request, and a 408 could be
            // taken for the answer to one it sends later.
            return onlyEmptyLines() ? .close : .answer(.headerTimeout)
        case .body:
            return .answer(.bodyTimeout)
        case .idle, .answering, .lingering:
            return .close
        }
    }
}
