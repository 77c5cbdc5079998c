import SwitchyardHTTP

/// One client connection: a plain struct in its loop's table, found by
/// slot; its generation goes in the epoll tag so stale events are dropped.
/// The HTTP rules live in `http` (a socket-free state machine); this adds
/// the socket, the buffers and the loop's bookkeeping. Buffers own memory
/// only while a request spans reads or a write was short, so an idle
/// keep-alive connection costs just this struct.
struct Connection {
    var fd: Int32 = -1
    var generation: UInt32 = 0
    /// Its own place in the table, for its epoll tag.
    var slotIndex: Int32 = 0
    var isOpen = false
    var http = ConnectionState()
    /// Bytes of a request that spans reads (from the request's first byte),
    /// and requests held back behind an answer that is away.
    var input = ByteBuffer()
    /// Answer bytes a short write left behind.
    var output = ByteBuffer()
    /// Where the parser stopped in an incomplete head within `input`.
    var scan = HeadScan()
    /// A chunked body in progress: decoder state and offsets from the request start.
    var decodingChunked = false
    var chunkedDecoder = ChunkedDecoder()
    var chunkedRawOffset = 0
    var chunkedBodyEnd = 0
    /// The request's whole size when its Content-Length is known, so `input`
    /// is grown once to fit it rather than doubled past it.
    var expectedRequestBytes = 0
    /// Requests wait in `input` (output high-water mark, or an answer came
    /// back): `flush` serves them once what is before them is written.
    var heldBack = false
    /// Whether the access log samples the request in hand: decided once,
    /// though its head is parsed again on each read while its body arrives.
    /// (Beside `heldBack`, in padding the struct has anyway.)
    var accessLogSampled = false
    /// Buffer bytes this connection counts in the server's shared total.
    var accounted = 0
    /// Not read while buffered memory is over `max_buffered_bytes`.
    var paused = false
    /// The epoll interest registered now, so it changes only when it must.
    var interest: UInt32 = 0
    /// Peer address as 16 bytes (IPv4 mapped into IPv6).
    var peer: (UInt64, UInt64) = (0, 0)
    /// Came in on a unix socket: local, so any loopback `allow:` admits it.
    var isUnixPeer = false
    /// The answer that is away (a task, a pool thread, a worker), if any.
    var exchange: Exchange?
    /// The generation a request whose body is still arriving began under.
    var pinned: Generation?
}
