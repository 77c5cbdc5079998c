import SwitchyardCompression
import SwitchyardConfig
import SwitchyardHTTP
import SwitchyardPlugins
import SwitchyardRouting

/// Routing a parsed request and sending it where its route's mode says:
/// answered here (fixed or `sync`), or handed off (`async`, `thread`,
/// `process`) in an exchange whose answer comes back later.
extension HTTPLoop {
    /// What routing decided.
    enum RouteLookup {
        case found(index: Int, path: UnsafeRawBufferPointer)
        /// The server answers it itself.
        case refused(status: Int, text: StaticString, allow: MethodSet?)
        case malformed(StaticReason)
    }

    /// Answers or hands off the request under the loop's generation, or the
    /// one a request whose body spanned reads began under (`pinned`; `routes`
    /// is then already that generation's).
    func dispatch(_ c: Slot, _ head: RequestHead, _ request: UnsafeMutableRawBufferPointer, _ body: Range<Int>,
                  pinned: Generation?) {
        // The shared phase turns before any loop hears of the drain.
        if shared.isDraining { c.pointee.http.closeAfterAnswer() }
        let buffer = UnsafeRawBufferPointer(request)
        switch findRoute(c, head, buffer) {
        case .refused(let status, let text, let allow):
            answerRefusal(status, text, allow: allow, c, head)
        case .malformed(let reason):
            answerError(.badRequest(reason), c)
        case .found(let index, let path):
            // Fixed answers first, without taking a reference to anything.
            if let fixed = withRoutes({ $0.fixedResponse(index) }) {
                fixed._withUnsafeGuaranteedRef { writeFixed($0, head, buffer, c) }
                return
            }
            let route = withRoutes { $0.entries[index] }
            switch route.action {
            case .fixed(let fixed):
                writeFixed(fixed, head, buffer, c)
            case .inline(let handler):
                runInline(handler, route, pinned?.number ?? generationNumber, c, head, buffer, path: path, body: body)
            case .async, .thread, .process:
                handOff(route, pinned ?? generation, c, head, buffer, path: path, body: body)
            }
        }
    }

    /// Routing for a request whose body has yet to arrive: when it would be
    /// refused (400, 403, 404, 405, 501) the answer goes now and the
    /// connection closes, since the body will not be read. True when it routes.
    func routesBeforeBody(_ c: Slot, _ head: RequestHead, _ request: UnsafeRawBufferPointer) -> Bool {
        switch findRoute(c, head, request) {
        case .found:
            return true
        case .refused(let status, let text, let allow):
            c.pointee.http.answeredWithError()
            answerRefusal(status, text, allow: allow, c, head)
        case .malformed(let reason):
            answerError(.badRequest(reason), c)
        }
        return false
    }

    /// The route for the request and its percent-decoded path (in
    /// `pathScratch` when it needed decoding), with `parameters` filled.
    @inline(__always)
    func findRoute(_ c: Slot, _ head: RequestHead, _ request: UnsafeRawBufferPointer) -> RouteLookup {
        guard let method = Self.methodBit(head.method) else {
            return .refused(status: 501, text: "method not implemented\n", allow: nil)
        }
        var path = head.path.bytes(in: request)
        if !head.pathIsPlain {
            if path.isEmpty { path = Self.rootPath }
            if PercentDecoding.needsDecoding(path) {
                pathScratch.count = 0
                if let reason = PercentDecoding.decodePath(path, into: &pathScratch) { return .malformed(reason) }
                path = pathScratch.readable
            }
            if PercentDecoding.hasDotSegment(path) { return .malformed(.dotSegment) }
        }
        parameters.removeAll()
        let match: RouteMatch
        if usesRouteCache, let cached = routeCache.route(for: path, method) {
            match = .found(route: cached)
        } else {
            match = withRoutes { $0.router.match(path: path, method: method, parameters: &parameters) }
            if usesRouteCache, case .found(let index) = match, parameters.count == 0 {
                routeCache.remember(index, for: path, method)
            }
        }
        switch match {
        case .notFound:
            return .refused(status: 404, text: "not found\n", allow: nil)
        case .methodNotAllowed(let allowed):
            return .refused(status: 405, text: "method not allowed\n", allow: allowed)
        case .found(let index):
            if accessLog.isOn { accessLog.found(withRoutes { $0.entries[index] }) }
            if withRoutes({ $0.isRestricted(index) }), !isAllowed(c, withRoutes { $0.entries[index].spec.allow }) {
                return .refused(status: 403, text: "forbidden\n", allow: nil)
            }
            return .found(index: index, path: path)
        }
    }

    /// `sync`: the handler answers here, into the loop's scratch, and the
    /// request's bytes are only borrowed.
    private func runInline(_ handler: any SyncHandler, _ route: CompiledRoutes.Entry, _ generationNumber: Int, _ c: Slot, _ head: RequestHead,
                           _ request: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer, body: Range<Int>) {
        response.reset()
        let view = HandlerRequest(buffer: request, head: head, headers: headers, path: path,
                                  parameters: parameters, parameterNames: route.parameterNames,
                                  body: UnsafeRawBufferPointer(rebasing: request[body]))
        shared.loopStates[loop.index].runningRoute.store(UInt64(generationNumber) << 32 | UInt64(route.index + 1), ordering: .relaxed)
        defer { shared.loopStates[loop.index].runningRoute.store(0, ordering: .relaxed) }
        do {
            try handler.respond(to: view, into: &response)
        } catch {
            handlerFailed(route, error)
            answerSimple(500, "handler failed\n", c, head)
            return
        }
        writeResponse(route, head, request, headers, response, c)
    }

    /// A handler threw: 500 for the client, a line for the operator.
    func handlerFailed(_ route: CompiledRoutes.Entry, _ error: any Error) {
        logger.error("route \(route.spec.path): handler \(route.spec.handler) failed: \(error)")
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

    private func isAllowed(_ c: Slot, _ networks: [NetworkPrefix]) -> Bool {
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
}
