import SwitchyardCompression
import SwitchyardConfig
import SwitchyardHTTP
import SwitchyardPlugins
import SwitchyardRouting

/// Routing a parsed request to its handler and rendering the answer.
extension HTTPLoop {
    func dispatch(_ c: UnsafeMutablePointer<Connection>, _ head: RequestHead,
                  _ request: UnsafeRawBufferPointer, _ body: UnsafeRawBufferPointer) {
        // The shared phase turns before any loop hears of the drain.
        if !head.keepAlive || shared.isDraining { c.pointee.closeAfterWrite = true }
        guard let (route, path) = findRoute(c, head, request) else { return }
        switch route.action {
        case .fixed(let fixed):
            writeFixed(fixed, route, head, request, c)
        case .sync(let handler):
            response.reset()
            let view = HandlerRequest(buffer: request, head: head, headers: headers, path: path,
                                      parameters: parameters, parameterNames: route.parameterNames, body: body)
            do {
                try handler.respond(to: view, into: &response)
            } catch {
                response.reset()
                response.status = 500
            }
            writeResponse(route, head, request, c)
        case .async:
            answerSimple(500, "async handlers are not served yet\n", c, head, isHead: false)
        }
    }

    /// Routing for a request whose body has yet to arrive: when it would be
    /// refused (400, 403, 404, 405, 501) the answer goes now, with
    /// `Connection: close`, since the body will not be read. True when it routes.
    func routesBeforeBody(_ c: UnsafeMutablePointer<Connection>, _ head: RequestHead,
                          _ request: UnsafeRawBufferPointer) -> Bool {
        let closing = c.pointee.closeAfterWrite
        c.pointee.closeAfterWrite = true
        guard findRoute(c, head, request) != nil else { return false }
        c.pointee.closeAfterWrite = closing
        return true
    }

    /// `max_buffered_bytes` is reached: a new body is refused at once.
    func answerBuffersFull(_ c: UnsafeMutablePointer<Connection>, _ head: RequestHead) {
        c.pointee.closeAfterWrite = true
        answerSimple(503, "request buffers are full; retry shortly\n", c, head, isHead: false, extraHeader: "Retry-After: 1\r\n")
    }

    /// The route for the request and its percent-decoded path (in
    /// `pathScratch` when it needed decoding), with `parameters` filled. When
    /// there is none, or the method or client is not allowed, answers that
    /// and returns nil.
    @inline(__always)
    private func findRoute(_ c: UnsafeMutablePointer<Connection>, _ head: RequestHead,
                           _ request: UnsafeRawBufferPointer) -> (CompiledRoutes.Entry, UnsafeRawBufferPointer)? {
        let isHead = head.method == .head
        guard let method = Self.methodBit(head.method) else {
            answerSimple(501, "method not implemented\n", c, head, isHead: false)
            return nil
        }
        var path = head.path.bytes(in: request)
        if path.isEmpty { path = Self.rootPath }
        if PercentDecoding.needsDecoding(path) {
            pathScratch.count = 0
            if let reason = PercentDecoding.decodePath(path, into: &pathScratch) {
                answerError(.badRequest(reason), c)
                return nil
            }
            path = pathScratch.readable
        }
        if PercentDecoding.hasDotSegment(path) {
            answerError(.badRequest(.dotSegment), c)
            return nil
        }
        parameters.removeAll()
        switch routes.router.match(path: path, method: method, parameters: &parameters) {
        case .notFound:
            answerSimple(404, "not found\n", c, head, isHead: isHead)
            return nil
        case .methodNotAllowed(let allowed):
            answerSimple(405, "method not allowed\n", c, head, isHead: isHead, extraHeader: "Allow: \(allowed)\r\n")
            return nil
        case .found(let index):
            let route = routes.entries[index]
            if !route.spec.allow.isEmpty, !isAllowed(c, route.spec.allow) {
                answerSimple(403, "forbidden\n", c, head, isHead: isHead)
                return nil
            }
            return (route, path)
        }
    }

    /// `/`, for absolute-form targets without a path. Static data, never freed.
    static var rootPath: UnsafeRawBufferPointer {
        let slash: StaticString = "/"
        return UnsafeRawBufferPointer(start: slash.utf8Start, count: 1)
    }

    @inline(__always) static func methodBit(_ method: HTTPMethod) -> MethodSet? {
        switch method {
        case .get: return .get
        case .head: return .head
        case .post: return .post
        case .put: return .put
        case .delete: return .delete
        case .patch: return .patch
        case .options: return .options
        case .trace: return .trace
        case .connect: return .connect
        case .other: return nil
        }
    }

    private func isAllowed(_ c: UnsafeMutablePointer<Connection>, _ networks: [NetworkPrefix]) -> Bool {
        // A unix-socket peer is local: any loopback network admits it.
        if c.pointee.isUnixPeer {
            return networks.contains { net in
                withUnsafeBytes(of: Self.loopbackV4) { net.contains($0) } || withUnsafeBytes(of: Self.loopbackV6) { net.contains($0) }
            }
        }
        return withUnsafeBytes(of: c.pointee.peer) { address in networks.contains { $0.contains(address) } }
    }

    /// 127.0.0.1 (IPv4-mapped) and ::1, as the 16 bytes peers are kept in.
    static let loopbackV4 = address16([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1])
    static let loopbackV6 = address16([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])

    private static func address16(_ bytes: [UInt8]) -> (UInt64, UInt64) {
        var address: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
        return address
    }

    /// Server, Date and, when needed, Connection — the lines every answer carries.
    @inline(__always)
    private func appendCommonLines(_ c: UnsafeMutablePointer<Connection>, _ head: RequestHead?) {
        output.append("Server: switchyard\r\n")
        date.append(to: &output)
        if c.pointee.closeAfterWrite {
            output.append("Connection: close\r\n")
        } else if let head, head.versionMinor == 0 {
            output.append("Connection: keep-alive\r\n")
        }
    }

    /// The coding to send when the choice depends on Accept-Encoding.
    @inline(__always)
    private func negotiatedCoding(_ head: RequestHead, _ request: UnsafeRawBufferPointer) -> ContentCoding {
        guard head.acceptEncodingRepeated else {
            return AcceptEncoding.negotiate(head.acceptEncoding.bytes(in: request), hasHeader: head.hasAcceptEncoding)
        }
        var preferences = AcceptEncoding.Preferences()
        headers.forEachValue(named: "accept-encoding", in: request) { preferences.add($0) }
        return preferences.choice
    }

    /// If-None-Match against a 2xx answer's `etag`: 304 for GET and HEAD when
    /// it matches, 412 for other methods (RFC 9110 §13.1.2), nil to answer as usual.
    private func conditionalStatus(_ head: RequestHead, _ request: UnsafeRawBufferPointer,
                                   etag: UnsafeRawBufferPointer, coding: ContentCoding) -> Int? {
        guard head.hasIfNoneMatch, ifNoneMatch(head, request, etag: etag, coding: coding) else { return nil }
        return head.method == .get || head.method == .head ? 304 : 412
    }

    /// Whether If-None-Match (every line of it) names `etag` as sent in `coding`.
    private func ifNoneMatch(_ head: RequestHead, _ request: UnsafeRawBufferPointer,
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

    private func writeFixed(_ fixed: PrerenderedResponse, _ route: CompiledRoutes.Entry, _ head: RequestHead,
                            _ request: UnsafeRawBufferPointer, _ c: UnsafeMutablePointer<Connection>) {
        let coding: ContentCoding = fixed.negotiates ? negotiatedCoding(head, request) : .identity
        let variant = fixed.variant(coding)
        if let etag = fixed.etag, let status = conditionalStatus(head, request, etag: etag, coding: coding) {
            if status == 412 {
                answerSimple(412, "precondition failed\n", c, head, isHead: false)
                return
            }
            output.append(StatusLine.table[304])
            appendCommonLines(c, head)
            output.append(variant.notModifiedHead)
            return
        }
        output.append(fixed.statusLine)
        appendCommonLines(c, head)
        output.append(variant.head)
        if head.method != .head { output.append(variant.body) }
    }

    /// Frames what a sync handler wrote: compression, ETag variants and
    /// If-None-Match, Content-Length or chunked.
    private func writeResponse(_ route: CompiledRoutes.Entry, _ head: RequestHead,
                               _ request: UnsafeRawBufferPointer, _ c: UnsafeMutablePointer<Connection>) {
        var status = response.status
        if status < 100 || status > 599 { status = 500 }
        var body = response.body.readable
        var coding = ContentCoding.identity
        var varies = false
        if route.compress, !response.isEncoded, !response.noTransform, StatusLine.allowsBody(status), status != 206,
           !body.isEmpty, body.count >= routes.compression.minBytes, let type = response.contentType,
           CompressiblePolicy.isCompressible(contentType: type.bytes(in: response.headerLines.readable)) {
            varies = true
            coding = negotiatedCoding(head, request)
        }
        let etag = response.etag.map { $0.bytes(in: response.headerLines.readable) }
        if let etag, (200...299).contains(status), let conditional = conditionalStatus(head, request, etag: etag, coding: coding) {
            if conditional == 412 {
                answerSimple(412, "precondition failed\n", c, head, isHead: false)
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
            return
        }
        if hasBody {
            output.append("Content-Length: ")
            output.appendDecimal(body.count)
            output.append("\r\n")
        }
        output.append("\r\n")
        if hasBody, head.method != .head { output.append(body) }
    }

    /// A short text answer made by the server itself (404, 405, 501, …).
    func answerSimple(_ status: Int, _ text: StaticString, _ c: UnsafeMutablePointer<Connection>,
                      _ head: RequestHead, isHead: Bool, extraHeader: String? = nil) {
        output.append(StatusLine.table[status])
        appendCommonLines(c, head)
        if let extraHeader { output.append(extraHeader) }
        output.append("Content-Type: text/plain; charset=utf-8\r\nContent-Length: ")
        output.appendDecimal(text.utf8CodeUnitCount)
        output.append("\r\n\r\n")
        if !isHead { output.append(text) }
    }

    /// A request that cannot be served or framed: answer its status and close.
    func answerError(_ error: RequestError, _ c: UnsafeMutablePointer<Connection>) {
        c.pointee.closeAfterWrite = true
        let text = error.reason + "\n"
        output.append(StatusLine.table[error.status])
        appendCommonLines(c, nil)
        output.append("Content-Type: text/plain; charset=utf-8\r\nContent-Length: ")
        output.appendDecimal(text.utf8.count)
        output.append("\r\n\r\n")
        output.append(text)
    }
}
