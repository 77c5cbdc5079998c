import SwitchyardHTTP

/// One client connection: a plain struct in its loop's table, found by
/// slot; its generation goes in the epoll tag so stale events are dropped.
/// The HTTP rules live in `http` (a socket-free state machine); this adds
/// the socket, the buffers and the loop's bookkeeping. Buffers own memory
/// only while a request spans reads or a write was short, so an idle
/// keep-alive connection costs just this struct.
///
/// Fields are ordered by size, the one-byte ones last, so the struct has no
/// padding inside: 256 bytes a connection (280 in declaration-by-topic order).
struct Connection {
    var fd: Int32 = -1
    var generation: UInt32 = 0
    /// Its own place in the table, for its epoll tag.
    var slotIndex: Int32 = 0
    /// The epoll interest registered now, so it changes only when it must.
    var interest: UInt32 = 0
    var http = ConnectionState()
    /// Bytes of a request that spans reads (from the request's first byte),
    /// and requests held back behind an answer that is away.
    var input = ByteBuffer()
    /// Answer bytes a short write left behind.
    var output = ByteBuffer()
    /// A chunked body in progress (`decodingChunked`): decoder state and
    /// offsets from the request start.
    var chunkedDecoder = ChunkedDecoder()
    var chunkedRawOffset = 0
    var chunkedBodyEnd = 0
    /// The request's whole size when its Content-Length is known, so `input`
    /// is grown once to fit it rather than doubled past it.
    var expectedRequestBytes = 0
    /// Buffer bytes this connection counts in the server's shared total.
    var accounted = 0
    /// Peer address as 16 bytes (IPv4 mapped into IPv6).
    var peer: (UInt64, UInt64) = (0, 0)
    /// The answer that is away (a task, a pool thread, a worker), if any.
    var exchange: Exchange?
    /// The generation a request whose body is still arriving began under.
    var pinned: Generation?
    /// Where the parser stopped in an incomplete head within `input`.
    var scan = HeadScan()
    var isOpen = false
    var decodingChunked = false
    /// Requests wait in `input` (output high-water mark, or an answer came
    /// back): `flush` serves them once what is before them is written.
    var heldBack = false
    /// Whether the access log samples the request in hand: decided once,
    /// though its head is parsed again on each read while its body arrives.
    var accessLogSampled = false
    /// Not read while buffered memory is over `max_buffered_bytes`.
    var paused = false
    /// Came in on a unix socket: local, so any loopback `allow:` admits it.
    var isUnixPeer = false
}
