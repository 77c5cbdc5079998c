/// What a handler answers: a status, header lines and a body, written into
/// buffers the loop owns and reuses, so a response allocates nothing once
/// the loop is warm. The server adds the framing headers (`Content-Length`,
/// `Connection`, `Date`, `Server`) and decides on compression.
public struct Response {
    public var status: Int = 200
    /// Encoded header lines, `Name: value\r\n` each.
    public private(set) var headerLines = ByteBuffer()
    public var body = ByteBuffer()

    /// Where the `Content-Type` value sits in `headerLines`, if set.
    public private(set) var contentType: ByteRange?
    /// Where the `ETag` value sits in `headerLines`, if set.
    public private(set) var etag: ByteRange?
    /// Set when the handler sent `Content-Encoding`: the body is already encoded.
    public private(set) var isEncoded = false
    /// Set by `Cache-Control: no-transform`.
    public private(set) var noTransform = false
    /// Send the body with chunked transfer coding instead of Content-Length,
    /// as a handler that streams must. HTTP/1.0 clients cannot read it, so
    /// they get Content-Length regardless.
    public var chunked = false

    public init() {}

    /// Empties the response for the next request, keeping its memory.
    public mutating func reset() {
        status = 200
        headerLines.count = 0
        body.count = 0
        contentType = nil; etag = nil
        isEncoded = false; noTransform = false
        chunked = false
    }

    /// Gives back buffers that one large answer grew past `bytes`.
    @inlinable public mutating func trim(above bytes: Int) {
        if body.capacity > bytes || headerLines.capacity > bytes { release(above: bytes) }
    }

    @usableFromInline mutating func release(above bytes: Int) {
        if body.capacity > bytes { body.release() }
        if headerLines.capacity > bytes { headerLines.release() }
    }

    /// Frees the buffers.
    public mutating func release() {
        headerLines.release()
        body.release()
    }

    /// Adds a header. Returns false, adding nothing, if the name is not a token,
    /// the value holds CR, LF or NUL, or the name is one the server owns
    /// (Content-Length, Transfer-Encoding, Connection, Date, Server).
    @discardableResult
    public mutating func addHeader(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Bool {
        guard !name.isEmpty else { return false }
        for c in name where CharacterClass.table[Int(c)] & CharacterClass.tchar == 0 { return false }
        for c in value where CharacterClass.table[Int(c)] & CharacterClass.fieldValue == 0 { return false }
        if equalsIgnoringCase(name, "content-length") || equalsIgnoringCase(name, "transfer-encoding")
            || equalsIgnoringCase(name, "connection") || equalsIgnoringCase(name, "date")
            || equalsIgnoringCase(name, "server") {
            return false
        }
        headerLines.append(name)
        headerLines.append(": ")
        let valueStart = headerLines.count
        headerLines.append(value)
        let range = ByteRange(valueStart, headerLines.count)
        headerLines.append("\r\n")
        if equalsIgnoringCase(name, "content-type") { contentType = range }
        else if equalsIgnoringCase(name, "etag") { etag = range }
        else if equalsIgnoringCase(name, "content-encoding") { isEncoded = true }
        else if equalsIgnoringCase(name, "cache-control") {
            RequestParser.forEachListElement(value) { if equalsIgnoringCase($0, "no-transform") { noTransform = true } }
        }
        return true
    }

    @discardableResult
    public mutating func addHeader(_ name: String, _ value: String) -> Bool {
        var name = name, value = value
        return name.withUTF8 { n in value.withUTF8 { v in
            addHeader(name: UnsafeRawBufferPointer(n), value: UnsafeRawBufferPointer(v))
        } }
    }

    /// Rebuilds an answer from its parts as `headerLines` and `body` hold
    /// them (from a worker process): each line goes through `addHeader`, so
    /// what the server derives from them is derived again.
    public mutating func load(status: Int, headerLines lines: UnsafeRawBufferPointer, body bytes: UnsafeRawBufferPointer, chunked: Bool) {
        reset()
        self.status = status
        self.chunked = chunked
        var start = 0
        while start < lines.count {
            var end = start
            while end + 1 < lines.count, !(lines[end] == 0x0D && lines[end + 1] == 0x0A) { end += 1 }
            var colon = start
            while colon < end, lines[colon] != 0x3A { colon += 1 }
            var valueStart = min(colon + 1, end)
            while valueStart < end, lines[valueStart] == 0x20 { valueStart += 1 }
            addHeader(name: UnsafeRawBufferPointer(rebasing: lines[start..<colon]),
                      value: UnsafeRawBufferPointer(rebasing: lines[valueStart..<end]))
            start = end + 2
        }
        body.append(bytes)
    }

    /// The header lines without the one named `name` (used to swap an ETag for its coded variant).
    public func headerLines(excluding range: ByteRange?) -> (UnsafeRawBufferPointer, UnsafeRawBufferPointer) {
        let all = headerLines.readable
        guard let range else { return (all, UnsafeRawBufferPointer(start: nil, count: 0)) }
        // The line runs from just after the previous CRLF (or the start) to its own CRLF.
        var lineStart = Int(range.start)
        while lineStart > 0, all[lineStart - 1] != 0x0A { lineStart -= 1 }
        let lineEnd = Int(range.end) + 2
        return (UnsafeRawBufferPointer(rebasing: all[0..<lineStart]), UnsafeRawBufferPointer(rebasing: all[lineEnd...]))
    }
}
