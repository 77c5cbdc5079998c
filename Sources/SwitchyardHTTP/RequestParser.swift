#if canImport(Glibc)
import Glibc
#endif

/// The outcome of parsing a request head.
public enum ParseResult: Sendable, Equatable {
    case complete(RequestHead)
    /// More bytes are needed; nothing seen so far is wrong.
    case incomplete
    case invalid(RequestError)
}

/// An HTTP/1.1 request-head parser (RFC 9112) that works in place: it returns
/// offsets into the caller's buffer and fills a caller-owned header table, and
/// allocates nothing.
///
/// It is strict where leniency lets requests be smuggled past a proxy: it
/// refuses bare CR and bare LF, obs-fold, whitespace before a colon, invalid
/// token characters, Content-Length with Transfer-Encoding, differing or
/// malformed Content-Length, and any transfer coding but a final `chunked`.
/// Thread-safe: it holds only limits.
public struct RequestParser: Sendable {
    public var maxHeaderBytes: Int
    public var maxTargetBytes: Int

    public init(maxHeaderBytes: Int = 16384, maxTargetBytes: Int = 8192) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxTargetBytes = maxTargetBytes
    }

    /// Parses the request head at the start of `buffer`.
    ///
    /// `scan` starts empty for each new request. On `.incomplete` the parser
    /// records which token the bytes ran out in, and the next call (with more
    /// bytes appended) looks only at the new bytes: if each one simply
    /// continues that token, a full parse would say `.incomplete` again, so it
    /// is skipped. A byte-at-a-time client costs O(1) per byte, and the answer
    /// never depends on how the bytes were split.
    public func parse(_ buffer: UnsafeRawBufferPointer, headers: inout HeaderTable, scan: inout HeadScan) -> ParseResult {
        let n = buffer.count
        if scan.part != .none, n <= maxHeaderBytes, n >= Int(scan.parsedCount),
           continuesToken(buffer, scan), withinTokenLimits(n, scan) {
            if scan.part == .emptyLines { scan.lineStart = Int32(n) }
            scan.parsedCount = Int32(n)
            return .incomplete
        }
        headers.count = 0
        return CharacterClass.table.withUnsafeBufferPointer { table in
            parseHead(buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), n, table.baseAddress!, &headers, &scan)
        }
    }

    /// Whether every byte after the last parse continues the token it stopped in.
    @inline(__always)
    private func continuesToken(_ buffer: UnsafeRawBufferPointer, _ scan: HeadScan) -> Bool {
        let from = Int(scan.parsedCount), n = buffer.count
        if scan.part == .emptyLines {
            // Only whole CRLF pairs keep it a run of empty lines.
            guard (n - from) & 1 == 0 else { return false }
            var i = from
            while i < n {
                if buffer[i] != Self.cr || buffer[i + 1] != Self.lf { return false }
                i += 2
            }
            return true
        }
        let mask: UInt8
        switch scan.part {
        case .method, .headerName: mask = CharacterClass.tchar
        case .target: mask = CharacterClass.target
        case .headerValue: mask = CharacterClass.fieldValue
        case .none, .emptyLines: return false
        }
        return CharacterClass.table.withUnsafeBufferPointer { table in
            for i in from..<n where table[Int(buffer[i])] & mask == 0 { return false }
            return true
        }
    }

    /// The length limits a full parse checks inside a token.
    @inline(__always)
    private func withinTokenLimits(_ n: Int, _ scan: HeadScan) -> Bool {
        let line = n - Int(scan.lineStart)
        switch scan.part {
        case .method: return line <= Self.maxMethodBytes
        case .target: return line <= maxTargetBytes
        default: return true
        }
    }

    static let maxMethodBytes = 32

    private static let cr: UInt8 = 0x0D, lf: UInt8 = 0x0A, sp: UInt8 = 0x20, tab: UInt8 = 0x09

    // One pass over the head: request line, then header lines. `incomplete`
    // is returned wherever the bytes run out before a line ends.
    @inline(__always)
    private func parseHead(_ p: UnsafePointer<UInt8>, _ n: Int, _ table: UnsafePointer<UInt8>,
                           _ headers: inout HeaderTable, _ scan: inout HeadScan) -> ParseResult {
        let cr = Self.cr, lf = Self.lf, sp = Self.sp, tab = Self.tab
        var head = RequestHead()
        var pos = 0

        // `part`: the token the bytes ran out in, for the next call's shortcut.
        func incomplete(lineStart: Int, inRequestLine: Bool, part: HeadScan.Part) -> ParseResult {
            if inRequestLine, n - lineStart > maxTargetBytes + 32 { return .invalid(.targetTooLong) }
            // Empty lines before the request line count toward the head's size.
            if n > maxHeaderBytes { return .invalid(inRequestLine && n - lineStart > maxHeaderBytes ? .targetTooLong : .headerTooLarge) }
            scan = HeadScan(lineStart: lineStart, parsedCount: n, part: part)
            return .incomplete
        }

        // Empty lines before the request line are skipped (RFC 9112 §2.2),
        // but they count toward the head: its size here, its timeout in the server.
        while pos + 1 < n, p[pos] == cr, p[pos + 1] == lf { pos += 2 }
        if pos == n { return incomplete(lineStart: pos, inRequestLine: true, part: .emptyLines) }
        if p[pos] == lf { return .invalid(.badRequest(.bareLF)) }
        if p[pos] == cr {
            if pos + 1 == n { return incomplete(lineStart: pos, inRequestLine: true, part: .none) }
            return .invalid(.badRequest(.bareCR))
        }
        let lineStart = pos

        // Method.
        while pos < n, table[Int(p[pos])] & CharacterClass.tchar != 0 { pos += 1 }
        if pos == n {
            return pos - lineStart > Self.maxMethodBytes ? .invalid(.badRequest(.invalidMethod))
                : incomplete(lineStart: lineStart, inRequestLine: true, part: .method)
        }
        if p[pos] != sp || pos == lineStart {
            return .invalid(.badRequest(pos == lineStart && p[pos] != sp ? .invalidMethod : (p[pos] == cr || p[pos] == lf ? .malformedRequestLine : .invalidMethod)))
        }
        head.methodRange = ByteRange(lineStart, pos)
        head.method = Self.method(p + lineStart, pos - lineStart)
        pos += 1

        // Target.
        let targetStart = pos
        while pos < n, table[Int(p[pos])] & CharacterClass.target != 0 { pos += 1 }
        if pos - targetStart > maxTargetBytes { return .invalid(.targetTooLong) }
        if pos == n { return incomplete(lineStart: lineStart, inRequestLine: true, part: .target) }
        if p[pos] != sp || pos == targetStart {
            return .invalid(.badRequest(p[pos] == cr || p[pos] == lf || pos == targetStart ? .malformedRequestLine : .invalidTarget))
        }
        head.target = ByteRange(targetStart, pos)
        if let error = Self.splitTarget(p, targetStart, pos, &head) { return .invalid(error) }
        pos += 1

        // Version: exactly `HTTP/d.d` CRLF.
        let expected: (UInt8, UInt8, UInt8, UInt8, UInt8) = (0x48, 0x54, 0x54, 0x50, 0x2F) // "HTTP/"
        let versionBytes = min(n - pos, 10)
        for i in 0..<versionBytes {
            let c = p[pos + i]
            switch i {
            case 0..<5:
                let e = withUnsafeBytes(of: expected) { $0[i] }
                if c != e { return .invalid(.badRequest(.invalidVersion)) }
            case 5, 7:
                if c < 0x30 || c > 0x39 { return .invalid(.badRequest(.invalidVersion)) }
            case 6:
                if c != 0x2E { return .invalid(.badRequest(.invalidVersion)) }
            case 8:
                if c == lf { return .invalid(.badRequest(.bareLF)) }
                if c != cr { return .invalid(.badRequest(.invalidVersion)) }
            default:
                if c != lf { return .invalid(.badRequest(.bareCR)) }
            }
        }
        if versionBytes < 10 { return incomplete(lineStart: lineStart, inRequestLine: true, part: .none) }
        if p[pos + 5] != 0x31 { return .invalid(.versionNotSupported) }
        head.versionMinor = p[pos + 7] == 0x30 ? 0 : 1
        pos += 10

        // Header lines.
        var contentLength = -1
        var transferEncoding = false, chunkedLast = false, otherCoding = false, chunkedNotFinal = false
        var connectionClose = false, connectionKeepAlive = false
        var hostCount = 0
        while true {
            let line = pos
            if pos >= n { return incomplete(lineStart: line, inRequestLine: false, part: .headerName) }
            let first = p[pos]
            if first == cr {
                if pos + 1 >= n { return incomplete(lineStart: line, inRequestLine: false, part: .none) }
                if p[pos + 1] != lf { return .invalid(.badRequest(.bareCR)) }
                pos += 2
                break
            }
            if first == lf { return .invalid(.badRequest(.bareLF)) }
            if first == sp || first == tab { return .invalid(.badRequest(.obsoleteLineFolding)) }

            let nameStart = pos
            while pos < n, table[Int(p[pos])] & CharacterClass.tchar != 0 { pos += 1 }
            if pos == n { return incomplete(lineStart: line, inRequestLine: false, part: .headerName) }
            let nameEnd = pos
            let c = p[pos]
            if c == sp || c == tab { return .invalid(.badRequest(.whitespaceBeforeColon)) }
            if c != 0x3A || nameEnd == nameStart {
                if c == cr, pos + 1 < n, p[pos + 1] != lf { return .invalid(.badRequest(.bareCR)) }
                if c == lf { return .invalid(.badRequest(.bareLF)) }
                return .invalid(.badRequest(.invalidHeaderName))
            }
            pos += 1
            while pos < n, p[pos] == sp || p[pos] == tab { pos += 1 }
            let valueStart = pos
            while pos < n, table[Int(p[pos])] & CharacterClass.fieldValue != 0 { pos += 1 }
            if pos == n { return incomplete(lineStart: line, inRequestLine: false, part: .headerValue) }
            if p[pos] == lf { return .invalid(.badRequest(.bareLF)) }
            if p[pos] != cr { return .invalid(.badRequest(.invalidHeaderValue)) }
            if pos + 1 >= n { return incomplete(lineStart: line, inRequestLine: false, part: .none) }
            if p[pos + 1] != lf { return .invalid(.badRequest(.bareCR)) }
            var valueEnd = pos
            while valueEnd > valueStart, p[valueEnd - 1] == sp || p[valueEnd - 1] == tab { valueEnd -= 1 }
            pos += 2

            let field = HeaderField(name: ByteRange(nameStart, nameEnd), value: ByteRange(valueStart, valueEnd))
            if !headers.append(field) { return .invalid(.headerTooLarge) }

            let name = UnsafeRawBufferPointer(start: p + nameStart, count: nameEnd - nameStart)
            let value = UnsafeRawBufferPointer(start: p + valueStart, count: valueEnd - valueStart)
            switch name.count {
            case 4 where equalsIgnoringCase(name, "host"):
                hostCount += 1
                if hostCount > 1 { return .invalid(.badRequest(.duplicateHost)) }
                head.host = field.value
            case 6 where equalsIgnoringCase(name, "expect"):
                guard equalsIgnoringCase(value, "100-continue") else { return .invalid(.expectationFailed) }
                head.expectContinue = true
            case 10 where equalsIgnoringCase(name, "connection"):
                Self.forEachListElement(value) { token in
                    if equalsIgnoringCase(token, "close") { connectionClose = true }
                    else if equalsIgnoringCase(token, "keep-alive") { connectionKeepAlive = true }
                }
            case 13 where equalsIgnoringCase(name, "if-none-match"):
                if head.hasIfNoneMatch { head.ifNoneMatchRepeated = true }
                else { head.ifNoneMatch = field.value; head.hasIfNoneMatch = true }
            case 14 where equalsIgnoringCase(name, "content-length"):
                guard let length = Self.contentLength(value) else {
                    return .invalid(.badRequest(.invalidContentLength))
                }
                if contentLength >= 0, contentLength != length {
                    return .invalid(.badRequest(.conflictingContentLength))
                }
                contentLength = length
            case 15 where equalsIgnoringCase(name, "accept-encoding"):
                if head.hasAcceptEncoding { head.acceptEncodingRepeated = true }
                else { head.acceptEncoding = field.value; head.hasAcceptEncoding = true }
            case 17 where equalsIgnoringCase(name, "transfer-encoding"):
                transferEncoding = true
                Self.forEachListElement(value) { coding in
                    if chunkedLast { chunkedNotFinal = true }
                    if equalsIgnoringCase(coding, "chunked") {
                        chunkedLast = true
                    } else {
                        chunkedLast = false
                        otherCoding = true
                    }
                }
            default:
                break
            }
        }

        head.headLength = pos
        if pos > maxHeaderBytes { return .invalid(.headerTooLarge) }
        if head.versionMinor == 1, hostCount == 0 { return .invalid(.badRequest(.missingHost)) }
        if transferEncoding {
            if head.versionMinor == 0 { return .invalid(.badRequest(.transferEncodingOnHTTP10)) }
            if contentLength >= 0 { return .invalid(.badRequest(.contentLengthWithTransferEncoding)) }
            if chunkedNotFinal { return .invalid(.badRequest(.chunkedNotFinal)) }
            if !chunkedLast || otherCoding {
                return otherCoding ? .invalid(.unsupportedTransferCoding) : .invalid(.badRequest(.chunkedNotFinal))
            }
            head.framing = .chunked
        } else if contentLength > 0 {
            head.framing = .contentLength(contentLength)
        }
        head.keepAlive = connectionClose ? false : (head.versionMinor == 1 || connectionKeepAlive)
        return .complete(head)
    }

    @inline(__always)
    private static func method(_ m: UnsafePointer<UInt8>, _ count: Int) -> HTTPMethod {
        @inline(__always) func eq(_ s: StaticString) -> Bool {
            s.utf8CodeUnitCount == count && memcmp(m, s.utf8Start, count) == 0
        }
        switch count {
        case 3: return eq("GET") ? .get : (eq("PUT") ? .put : .other)
        case 4: return eq("HEAD") ? .head : (eq("POST") ? .post : .other)
        case 5: return eq("PATCH") ? .patch : (eq("TRACE") ? .trace : .other)
        case 6: return eq("DELETE") ? .delete : .other
        case 7: return eq("OPTIONS") ? .options : (eq("CONNECT") ? .connect : .other)
        default: return .other
        }
    }

    /// Splits origin-form, absolute-form and asterisk-form targets into path and query.
    private static func splitTarget(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ head: inout RequestHead) -> RequestError? {
        var pathStart = start
        if p[start] == 0x2F {
            // origin-form
        } else if end - start == 1, p[start] == 0x2A {
            // asterisk-form is for OPTIONS only (RFC 9112 §3.2.4)
            guard head.method == .options else { return .badRequest(.invalidTarget) }
            head.path = ByteRange(start, end)
            return nil
        } else {
            // absolute-form: http:// or https://, then the authority up to '/' or '?'.
            let target = UnsafeRawBufferPointer(start: p + start, count: end - start)
            let schemeLength: Int
            if target.count >= 7, equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: target[0..<7]), "http://") {
                schemeLength = 7
            } else if target.count >= 8, equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: target[0..<8]), "https://") {
                schemeLength = 8
            } else {
                // CONNECT's authority-form asks for a tunnel, which this server does not open.
                return head.method == .connect ? .methodNotImplemented : .badRequest(.invalidTarget)
            }
            pathStart = start + schemeLength
            while pathStart < end, p[pathStart] != 0x2F, p[pathStart] != 0x3F { pathStart += 1 }
            // An http(s) URI has a host (RFC 9110 §4.2.1): not empty, not just userinfo.
            let hostStart = start + schemeLength
            if pathStart == hostStart || p[pathStart - 1] == 0x40 { return .badRequest(.invalidTarget) }
        }
        var queryStart = pathStart
        while queryStart < end, p[queryStart] != 0x3F { queryStart += 1 }
        head.path = ByteRange(pathStart, queryStart)
        if queryStart < end {
            head.hasQuery = true
            head.query = ByteRange(queryStart + 1, end)
        }
        return nil
    }

    /// Content-Length: 1 to 18 digits, nothing else.
    @inline(__always)
    private static func contentLength(_ value: UnsafeRawBufferPointer) -> Int? {
        if value.isEmpty || value.count > 18 { return nil }
        var result = 0
        for c in value {
            if c < 0x30 || c > 0x39 { return nil }
            result = result * 10 + Int(c - 0x30)
        }
        return result
    }

    /// Calls `body` for each non-empty element of a comma-separated list, trimmed of OWS.
    @inline(__always)
    static func forEachListElement(_ value: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        var i = 0
        let n = value.count
        while i < n {
            while i < n, value[i] == sp || value[i] == tab || value[i] == 0x2C { i += 1 }
            let start = i
            while i < n, value[i] != 0x2C { i += 1 }
            var end = i
            while end > start, value[end - 1] == sp || value[end - 1] == tab { end -= 1 }
            if end > start { body(UnsafeRawBufferPointer(rebasing: value[start..<end])) }
        }
    }
}
