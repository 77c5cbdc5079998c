import SwitchyardCompression
import SwitchyardHTTP
import SwitchyardRouting

/// Rendering answers into the loop's output: fixed responses, what a
/// handler wrote (wherever it ran), and the server's own short answers.
extension HTTPLoop {
    static let serverLine: StaticString = "Server: switchyard\r\n"

    /// Server, Date and, when needed, Connection — the lines every answer carries.
    @inline(__always)
    private func appendCommonLines(_ c: Slot, _ head: RequestHead?) {
        output.append(Self.serverLine)
        date.append(to: &output)
        appendConnectionLine(c, head)
    }

    @inline(__always)
    private func appendConnectionLine(_ c: Slot, _ head: RequestHead?) {
        if c.pointee.http.closesAfterAnswer {
            output.append("Connection: close\r\n")
        } else if let head, head.versionMinor == 0 {
            output.append("Connection: keep-alive\r\n")
        }
    }

    /// The coding to send when the choice depends on Accept-Encoding.
    @inline(__always)
    private func negotiatedCoding(_ head: RequestHead, _ request: UnsafeRawBufferPointer, _ headers: HeaderTable) -> ContentCoding {
        guard head.acceptEncodingRepeated else {
            return AcceptEncoding.negotiate(head.acceptEncoding.bytes(in: request), hasHeader: head.hasAcceptEncoding)
        }
        var preferences = AcceptEncoding.Preferences()
        headers.forEachValue(named: "accept-encoding", in: request) { preferences.add($0) }
        return preferences.choice
    }

    /// If-None-Match against a 2xx answer's `etag`: 304 for GET and HEAD when
    /// it matches, 412 for other methods (RFC 9110 §13.1.2), nil to answer as usual.
    private func conditionalStatus(_ head: RequestHead, _ request: UnsafeRawBufferPointer, _ headers: HeaderTable,
                                   etag: UnsafeRawBufferPointer, coding: ContentCoding) -> Int? {
        guard head.hasIfNoneMatch, ifNoneMatch(head, request, headers, etag: etag, coding: coding) else { return nil }
        return head.method == .get || head.method == .head ? 304 : 412
    }

    /// Whether If-None-Match (every line of it) names `etag` as sent in `coding`.
    private func ifNoneMatch(_ head: RequestHead, _ request: UnsafeRawBufferPointer, _ headers: HeaderTable,
                             etag: UnsafeRawBufferPointer, coding: ContentCoding) -> Bool {
        guard head.ifNoneMatchRepeated else {
            return ETagVariant.ifNoneMatchMatches(head.ifNoneMatch.bytes(in: request), etag: etag, coding: coding)
        }
        var matched = false
        headers.forEachValue(named: "if-none-match", in: request) {
            if ETagVariant.ifNoneMatchMatches($0, etag: etag, coding: coding) { matched = true }
        }
        return matched
    }

    func writeFixed(_ fixed: PrerenderedResponse, _ head: RequestHead, _ request: UnsafeRawBufferPointer, _ c: Slot) {
        let start = output.count
        let coding: ContentCoding = fixed.negotiates ? negotiatedCoding(head, request, headers) : .identity
        let variant = fixed.variant(coding)
        if let etag = fixed.etag, let status = conditionalStatus(head, request, headers, etag: etag, coding: coding) {
            if status == 412 {
                answerSimple(412, "precondition failed\n", c, head)
                return
            }
            output.append(StatusLine.table[304])
            appendCommonLines(c, head)
            output.append(variant.notModifiedHead)
            logAnswer(c, from: start)
            return
        }
        let rest = head.method == .head ? variant.head : variant.headAndBody
        // One capacity check for the whole answer: the Date line is stored
        // as five whole words (40 bytes), a Connection line is at most 24.
        output.reserve(fixed.prefix.count + 40 + 24 + rest.count)
        output.appendReserved(fixed.prefix)
        date.append(to: &output)
        appendConnectionLine(c, head)
        output.appendReserved(rest)
        logAnswer(c, from: start)
    }

    /// The access log's line for the answer just written at `output[start...]`.
    @inline(__always)
    private func logAnswer(_ c: Slot, from start: Int) {
        if accessLog.isOn { accessLog.answered(output, from: start, client: c.pointee.fd) }
    }

    /// Frames what a handler wrote: compression, ETag variants and
    /// If-None-Match, Content-Length or chunked. `request` and `headers` are
    /// the request it answers (the loop's, or an exchange's own copy).
    func writeResponse(_ route: CompiledRoutes.Entry, _ head: RequestHead, _ request: UnsafeRawBufferPointer,
                       _ headers: HeaderTable, _ response: Response, _ c: Slot) {
        let start = output.count
        var status = response.status
        if status < 100 || status > 599 { status = 500 }
        var body = response.body.readable
        var coding = ContentCoding.identity
        var varies = false
        if !response.isEncoded, !response.noTransform,
           CompressiblePolicy.negotiates(routeCompresses: route.compress, status: status, bodyBytes: body.count,
                                         minBytes: route.compressionMinBytes,
                                         contentType: response.contentType.map { $0.bytes(in: response.headerLines.readable) }) {
            varies = true
            coding = negotiatedCoding(head, request, headers)
        }
        let etag = response.etag.map { $0.bytes(in: response.headerLines.readable) }
        if let etag, (200...299).contains(status),
           let conditional = conditionalStatus(head, request, headers, etag: etag, coding: coding) {
            if conditional == 412 {
                answerSimple(412, "precondition failed\n", c, head)
                return
            }
            status = 304
        }
        if coding != .identity, status != 304 {
            compressed.count = 0
            deflater.compress(body, coding: coding, into: &compressed)
            body = compressed.readable
        }
        output.append(StatusLine.table[status])
        appendCommonLines(c, head)
        if coding != .identity, let etag {
            let (before, after) = response.headerLines(excluding: response.etag)
            output.append(before); output.append(after)
            output.append("ETag: ")
            ETagVariant.append(etag, coding: coding, to: &output)
            output.append("\r\n")
        } else {
            output.append(response.headerLines.readable)
        }
        if varies { output.append("Vary: Accept-Encoding\r\n") }
        if coding != .identity, status != 304 {
            output.append("Content-Encoding: ")
            output.append(coding.headerValue)
            output.append("\r\n")
        }
        let hasBody = StatusLine.allowsBody(status)
        let chunked = hasBody && response.chunked && head.versionMinor >= 1
        if chunked {
            output.append("Transfer-Encoding: chunked\r\n\r\n")
            if head.method != .head { ChunkedEncoder.append(body, to: &output) }
            logAnswer(c, from: start)
            return
        }
        if hasBody {
            output.append("Content-Length: ")
            output.appendDecimal(body.count)
            output.append("\r\n")
        }
        output.append("\r\n")
        if hasBody, head.method != .head { output.append(body) }
        logAnswer(c, from: start)
    }

    /// A short text answer made by the server itself (404, 405, 503, …);
    /// without a body for HEAD.
    func answerSimple(_ status: Int, _ text: StaticString, _ c: Slot, _ head: RequestHead, extraHeader: String? = nil) {
        let start = output.count
        output.append(StatusLine.table[status])
        appendCommonLines(c, head)
        if let extraHeader { output.append(extraHeader) }
        output.append("Content-Type: text/plain; charset=utf-8\r\nContent-Length: ")
        output.appendDecimal(text.utf8CodeUnitCount)
        output.append("\r\n\r\n")
        if head.method != .head { output.append(text) }
        logAnswer(c, from: start)
    }

    /// What routing refused: 404, 403, 405 with `Allow`, 501.
    func answerRefusal(_ status: Int, _ text: StaticString, allow: MethodSet?, _ c: Slot, _ head: RequestHead) {
        answerSimple(status, text, c, head, extraHeader: allow.map { "Allow: \($0)\r\n" })
    }

    /// `max_buffered_bytes` is reached: a new body is refused at once.
    func answerBuffersFull(_ c: Slot, _ head: RequestHead) {
        c.pointee.http.answeredWithError()
        answerSimple(503, "request buffers are full; retry shortly\n", c, head, extraHeader: "Retry-After: 1\r\n")
    }

    /// A request that cannot be served or framed: answer its status and close.
    func answerError(_ error: RequestError, _ c: Slot) {
        c.pointee.http.answeredWithError()
        let start = output.count
        let text = error.reason + "\n"
        output.append(StatusLine.table[error.status])
        appendCommonLines(c, nil)
        output.append("Content-Type: text/plain; charset=utf-8\r\nContent-Length: ")
        output.appendDecimal(text.utf8.count)
        output.append("\r\n\r\n")
        output.append(text)
        logAnswer(c, from: start)
    }
}
