import SwitchyardHTTP

/// One client connection: a plain struct in its loop's flat table, found by
/// slot; its generation goes in the epoll tag so stale events are dropped.
/// Buffers own memory only while a request spans reads or a write was short,
/// so an idle keep-alive connection costs just this struct.
struct Connection {
    enum Phase: UInt8 {
        /// Slot unused.
        case free
        /// New or kept alive, no bytes of the next request yet.
        case awaitingRequest
        /// Part of a request has arrived; the head timeout runs.
        case receiving
        /// An answer that ends the connection was written; reading and
        /// discarding until the client closes, so it sees the answer, not a reset.
        case lingering
    }

    var fd: Int32 = -1
    var generation: UInt32 = 0
    var phase: Phase = .free
    /// Bytes of a request that spans reads (starts at the request's first byte).
    var input = ByteBuffer()
    /// Response bytes a short write left behind.
    var output = ByteBuffer()
    /// Where the parser stopped in an incomplete head within `input`.
    var scan = HeadScan()
    /// Monotonic ms at which the current timeout (head, idle, write, linger) fires.
    var deadline: UInt64 = 0
    var sentContinue = false
    /// The last request had a body: one CRLF after it is not a new head.
    var followsBody = false
    /// The head is in, the body is not: a timeout now is about the body.
    var receivingBody = false
    /// Raw bytes of the body so far.
    var bodyBytes = 0
    /// The request's whole size when its Content-Length is known, so `input`
    /// is grown once to fit it rather than doubled past it.
    var expectedRequestBytes = 0
    /// The minimum data rate is judged per window of at least the grace
    /// period: when the window began, and where the transfer then stood
    /// (body bytes received, or answer bytes not yet read by the client).
    var rateWindowStart: UInt64 = 0
    var rateWindowMark = 0
    /// Buffer bytes this connection counts in the server's shared total.
    var accounted = 0
    /// Not read while the server holds more than `max_buffered_bytes` and
    /// this connection more than its share.
    var paused = false
    /// The output high-water mark stopped `process`; complete requests may wait in `input`.
    var heldBack = false
    /// While a write waits: the bytes not yet sent (ours and the kernel's)
    /// when its timeout was last checked, to tell a slow reader from a stalled one.
    var pendingAtCheck = 0
    var closeAfterWrite = false
    var wantsWrite = false
    /// Chunked body in progress: decoder state and offsets from the request start.
    var decodingChunked = false
    var chunkedDecoder = ChunkedDecoder()
    var chunkedRawOffset = 0
    var chunkedBodyEnd = 0
    /// Peer address as 16 bytes (IPv4 mapped into IPv6).
    var peer: (UInt64, UInt64) = (0, 0)
    /// Came in on a unix socket: local, so any loopback `allow:` admits it.
    var isUnixPeer = false

    mutating func releaseBuffers() {
        input.release()
        output.release()
    }
}
