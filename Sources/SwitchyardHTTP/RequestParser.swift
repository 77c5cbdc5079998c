#if canImport(Glibc)
import Glibc
#endif

/// The outcome of parsing a request head into a caller's `RequestHead`.
public enum ParseStatus: Sendable, Equatable {
    case complete
    /// More bytes are needed; nothing seen so far is wrong.
    case incomplete
    case invalid(RequestError)
}

/// The outcome of parsing a request head, the head included.
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
    /// `CharacterClass.bytes`, held here so a parse reads no lazy global.
    nonisolated(unsafe) private let table: UnsafePointer<UInt8>

    public init(maxHeaderBytes: Int = 16384, maxTargetBytes: Int = 8192) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxTargetBytes = maxTargetBytes
        self.table = CharacterClass.bytes
    }

    /// Parses the request head at the start of `buffer` and returns it: `parse(_:into:headers:scan:)` for
    /// callers that keep no head of their own.
    public func parse(_ buffer: UnsafeRawBufferPointer, headers: inout HeaderTable, scan: inout HeadScan) -> ParseResult {
        var head = RequestHead()
        switch parse(buffer, into: &head, headers: &headers, scan: &scan) {
        case .complete: return .complete(head)
        case .incomplete: return .incomplete
        case .invalid(let error): return .invalid(error)
        }
    }

    /// Parses the request head at the start of `buffer`.
    ///
    /// `scan` starts empty for each new request. On `.incomplete` the parser
    /// records which token the bytes ran out in, and the next call (with more
    /// bytes appended) looks only at the new bytes: if each one simply
    /// continues that token, a full parse would say `.incomplete` again, so it
    /// is skipped. A byte-at-a-time client costs O(1) per byte, and the answer
    /// never depends on how the bytes were split.
    /// `head` starts as `RequestHead()` and is filled in place: the loop
    /// copies no head per request.
    public func parse(_ buffer: UnsafeRawBufferPointer, into head: inout RequestHead, headers: inout HeaderTable,
                      scan: inout HeadScan) -> ParseStatus {
        let n = buffer.count
        if scan.part != .none, n <= maxHeaderBytes, n >= Int(scan.parsedCount),
           continuesToken(buffer, scan), withinTokenLimits(n, scan) {
            if scan.part == .emptyLines { scan.lineStart = Int32(n) }
            scan.parsedCount = Int32(n)
            return .incomplete
        }
        headers.count = 0
        return parseHead(buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), n, table, &head, &headers, &scan)
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
    private func parseHead(_ p: UnsafePointer<UInt8>, _ n: Int, _ table: UnsafePointer<UInt8>, _ head: inout RequestHead,
                           _ headers: inout HeaderTable, _ scan: inout HeadScan) -> ParseStatus {
        let cr = Self.cr, lf = Self.lf, sp = Self.sp
        var pos = 0

        // Empty lines before the request line are skipped (RFC 9112 §2.2),
        // but they count toward the head: its size here, its timeout in the server.
        while pos + 1 < n, p[pos] == cr, p[pos + 1] == lf { pos += 2 }
        if pos == n { return incomplete(n, pos, inRequestLine: true, .emptyLines, &scan) }
        if p[pos] == lf { return .invalid(.badRequest(.bareLF)) }
        if p[pos] == cr {
            if pos + 1 == n { return incomplete(n, pos, inRequestLine: true, .none, &scan) }
            return .invalid(.badRequest(.bareCR))
        }
        let lineStart = pos

        // Method. GET, by far the most common, is known from one load.
        if n - pos >= 4, UnsafeRawPointer(p + pos).loadUnaligned(as: UInt32.self) == Self.getAndSpace {
            pos += 3
        } else {
            while pos < n, table[Int(p[pos])] & CharacterClass.tchar != 0 { pos += 1 }
        }
        if pos == n {
            return pos - lineStart > Self.maxMethodBytes ? .invalid(.badRequest(.invalidMethod))
                : incomplete(n, lineStart, inRequestLine: true, .method, &scan)
        }
        if p[pos] != sp || pos == lineStart {
            return .invalid(.badRequest(pos == lineStart && p[pos] != sp ? .invalidMethod : (p[pos] == cr || p[pos] == lf ? .malformedRequestLine : .invalidMethod)))
        }
        head.methodRange = ByteRange(lineStart, pos)
        head.method = Self.method(p + lineStart, pos - lineStart)
        pos += 1

        // Target. Most are a plain path (no '?', '%' or '.'): the first loop
        // reads them whole, and the path needs no second look anywhere.
        let targetStart = pos
        while n - pos >= 16 {
            let run = ByteScan.plainPath(p + pos)
            pos += run
            if run < 16 { break }
        }
        while pos < n, table[Int(p[pos])] & CharacterClass.plainPath != 0 { pos += 1 }
        let plainEnd = pos
        while pos < n, table[Int(p[pos])] & CharacterClass.target != 0 { pos += 1 }
        if pos - targetStart > maxTargetBytes { return .invalid(.targetTooLong) }
        if pos == n { return incomplete(n, lineStart, inRequestLine: true, .target, &scan) }
        if p[pos] != sp || pos == targetStart {
            return .invalid(.badRequest(p[pos] == cr || p[pos] == lf || pos == targetStart ? .malformedRequestLine : .invalidTarget))
        }
        head.target = ByteRange(targetStart, pos)
        if plainEnd == pos, p[targetStart] == 0x2F {
            head.path = head.target
            head.pathIsPlain = true
        } else if let error = Self.splitTarget(p, targetStart, pos, &head) {
            return .invalid(error)
        }
        pos += 1

        // Version: exactly `HTTP/d.d` CRLF. HTTP/1.1 and 1.0 take one compare.
        var version: UInt64 = 0
        if n - pos >= 10, p[pos + 8] == cr, p[pos + 9] == lf {
            version = UnsafeRawPointer(p + pos).loadUnaligned(as: UInt64.self)
        }
        if version == Self.http11 || version == Self.http10 {
            head.versionMinor = version == Self.http11 ? 1 : 0
        } else {
            let versionBytes = min(n - pos, 10)
            if let error = Self.versionError(p + pos, versionBytes) { return .invalid(error) }
            if versionBytes < 10 { return incomplete(n, lineStart, inRequestLine: true, .none, &scan) }
            if p[pos + 5] != 0x31 { return .invalid(.versionNotSupported) }
            head.versionMinor = p[pos + 7] == 0x30 ? 0 : 1
        }
        pos += 10
        return parseHeaderLines(p, n, pos, table, &head, &headers, &scan)
    }

    /// What is wrong with the first `count` (at most 10) bytes of a version
    /// that is not plain HTTP/1.1 or 1.0 CRLF, if anything.
    @inline(never)
    private static func versionError(_ v: UnsafePointer<UInt8>, _ count: Int) -> RequestError? {
        let expected: (UInt8, UInt8, UInt8, UInt8, UInt8) = (0x48, 0x54, 0x54, 0x50, 0x2F) // "HTTP/"
        for i in 0..<count {
            let c = v[i]
            switch i {
            case 0..<5:
                let e = withUnsafeBytes(of: expected) { $0[i] }
                if c != e { return .badRequest(.invalidVersion) }
            case 5, 7:
                if c < 0x30 || c > 0x39 { return .badRequest(.invalidVersion) }
            case 6:
                if c != 0x2E { return .badRequest(.invalidVersion) }
            case 8:
                if c == lf { return .badRequest(.bareLF) }
                if c != cr { return .badRequest(.invalidVersion) }
            default:
                if c != lf { return .badRequest(.bareCR) }
            }
        }
        return nil
    }

    /// The bytes ran out in a line that began at `lineStart`: `.incomplete`,
    /// with `part` (the token they ran out in) kept for the next call's
    /// shortcut, unless the head is already too long to ever complete.
    private func incomplete(_ n: Int, _ lineStart: Int, inRequestLine: Bool, _ part: HeadScan.Part,
                            _ scan: inout HeadScan) -> ParseStatus {
        if inRequestLine, n - lineStart > maxTargetBytes + 32 { return .invalid(.targetTooLong) }
        // Empty lines before the request line count toward the head's size.
        if n > maxHeaderBytes { return .invalid(inRequestLine && n - lineStart > maxHeaderBytes ? .targetTooLong : .headerTooLarge) }
        scan = HeadScan(lineStart: lineStart, parsedCount: n, part: part)
        return .incomplete
    }

    /// "GET " as it loads from memory (little-endian).
    static let getAndSpace: UInt32 = 0x2054_4547

    /// "HTTP/1.1" and "HTTP/1.0" as they load from memory (little-endian).
    static let http11: UInt64 = 0x312e_312f_5054_5448
    static let http10: UInt64 = 0x302e_312f_5054_5448

    /// Header lines from `start` to the empty line, then what they mean together.
    @inline(__always)
    private func parseHeaderLines(_ p: UnsafePointer<UInt8>, _ n: Int, _ start: Int, _ table: UnsafePointer<UInt8>,
                                  _ head: inout RequestHead, _ headers: inout HeaderTable,
                                  _ scan: inout HeadScan) -> ParseStatus {
        let cr = Self.cr, lf = Self.lf, sp = Self.sp, tab = Self.tab
        var pos = start
        var contentLength = -1
        var transferEncoding = false, chunkedLast = false, otherCoding = false, chunkedNotFinal = false
        var connectionClose = false, connectionKeepAlive = false
        var hostCount = 0
        while true {
            let line = pos
            if pos >= n { return incomplete(n, line, inRequestLine: false, .headerName, &scan) }
            let first = p[pos]
            if first == cr {
                if pos + 1 >= n { return incomplete(n, line, inRequestLine: false, .none, &scan) }
                if p[pos + 1] != lf { return .invalid(.badRequest(.bareCR)) }
                pos += 2
                break
            }
            if first == lf { return .invalid(.badRequest(.bareLF)) }
            if first == sp || first == tab { return .invalid(.badRequest(.obsoleteLineFolding)) }

            let nameStart = pos
            while pos < n, table[Int(p[pos])] & CharacterClass.tchar != 0 { pos += 1 }
            if pos == n { return incomplete(n, line, inRequestLine: false, .headerName, &scan) }
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
            while n - pos >= 16 {
                let run = ByteScan.fieldValue(p + pos)
                pos += run
                if run < 16 { break }
            }
            while pos < n, table[Int(p[pos])] & CharacterClass.fieldValue != 0 { pos += 1 }
            if pos == n { return incomplete(n, line, inRequestLine: false, .headerValue, &scan) }
            if p[pos] == lf { return .invalid(.badRequest(.bareLF)) }
            if p[pos] != cr { return .invalid(.badRequest(.invalidHeaderValue)) }
            if pos + 1 >= n { return incomplete(n, line, inRequestLine: false, .none, &scan) }
            if p[pos + 1] != lf { return .invalid(.badRequest(.bareCR)) }
            var valueEnd = pos
            while valueEnd > valueStart, p[valueEnd - 1] == sp || p[valueEnd - 1] == tab { valueEnd -= 1 }
            pos += 2

            let field = HeaderField(name: ByteRange(nameStart, nameEnd), value: ByteRange(valueStart, valueEnd))
            if !headers.append(field) { return .invalid(.headerTooLarge) }

            let name = UnsafeRawPointer(p + nameStart)
            let value = UnsafeRawBufferPointer(start: p + valueStart, count: valueEnd - valueStart)
            switch nameEnd - nameStart {
            case 4 where Self.nameIs(name, 4, "host"):
                hostCount += 1
                if hostCount > 1 { return .invalid(.badRequest(.duplicateHost)) }
                head.host = field.value
            case 6 where Self.nameIs(name, 6, "expect"):
                guard value.count == 12, Self.nameIs(value.baseAddress!, 12, "100-continue") else { return .invalid(.expectationFailed) }
                head.expectContinue = true
            case 10 where Self.nameIs(name, 10, "connection"):
                Self.forEachListElement(value) { token in
                    if equalsIgnoringCase(token, "close") { connectionClose = true }
                    else if equalsIgnoringCase(token, "keep-alive") { connectionKeepAlive = true }
                }
            case 13 where Self.nameIs(name, 13, "if-none-match"):
                if head.hasIfNoneMatch { head.ifNoneMatchRepeated = true }
                else { head.ifNoneMatch = field.value; head.hasIfNoneMatch = true }
            case 14 where Self.nameIs(name, 14, "content-length"):
                guard let length = Self.contentLength(value) else {
                    return .invalid(.badRequest(.invalidContentLength))
                }
                if contentLength >= 0, contentLength != length {
                    return .invalid(.badRequest(.conflictingContentLength))
                }
                contentLength = length
            case 15 where Self.nameIs(name, 15, "accept-encoding"):
                if head.hasAcceptEncoding { head.acceptEncodingRepeated = true }
                else { head.acceptEncoding = field.value; head.hasAcceptEncoding = true }
            case 17 where Self.nameIs(name, 17, "transfer-encoding"):
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
        return .complete
    }

    /// Whether the `count` bytes at `p` spell `lower` in any case: a few
    /// word-sized compares, no loop over bytes. Exact for tokens and field
    /// values (CharacterClass-checked bytes), where OR-ing 0x20 maps only
    /// upper-case letters onto lower-case ones.
    @inline(__always)
    static func nameIs(_ p: UnsafeRawPointer, _ count: Int, _ lower: StaticString) -> Bool {
        let l = UnsafeRawPointer(lower.utf8Start)
        var i = 0
        while i + 8 <= count {
            if p.loadUnaligned(fromByteOffset: i, as: UInt64.self) | 0x2020_2020_2020_2020
                != l.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
            i += 8
        }
        if i + 4 <= count {
            if p.loadUnaligned(fromByteOffset: i, as: UInt32.self) | 0x2020_2020 != l.loadUnaligned(fromByteOffset: i, as: UInt32.self) { return false }
            i += 4
        }
        if i + 2 <= count {
            if p.loadUnaligned(fromByteOffset: i, as: UInt16.self) | 0x2020 != l.loadUnaligned(fromByteOffset: i, as: UInt16.self) { return false }
            i += 2
        }
        if i < count, p.load(fromByteOffset: i, as: UInt8.self) | 0x20 != l.load(fromByteOffset: i, as: UInt8.self) { return false }
        return true
    }

    @inline(__always)
    private static func method(_ m: UnsafePointer<UInt8>, _ count: Int) -> HTTPMethod {
        @inline(__always) func eq(_ s: StaticString) -> Bool {
            s.utf8CodeUnitCount == count && memcmp(m, s.utf8Start, count) == 0
        }
        // Methods are case-sensitive. The byte after the method is the space
        // before the target, so four bytes may be read for a three-byte one.
        @inline(__always) func word() -> UInt32 { UnsafeRawPointer(m).loadUnaligned(as: UInt32.self) }
        switch count {
        case 3: let w = word(); return w == 0x2054_4547 ? .get : (w == 0x2054_5550 ? .put : .other)     // "GET ", "PUT "
        case 4: let w = word(); return w == 0x4441_4548 ? .head : (w == 0x5453_4f50 ? .post : .other)   // "HEAD", "POST"
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
