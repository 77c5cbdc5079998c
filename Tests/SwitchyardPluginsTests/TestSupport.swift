#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import SwitchyardConfig
import SwitchyardEventLoop
import SwitchyardHTTP
import SwitchyardRouting
@testable import SwitchyardPlugins

/// A handler's answer, copied out of the loop-owned `Response`.
struct Answer: Sendable, Equatable {
    var status: Int
    var contentType: String?
    var body: String

    init(status: Int, contentType: String?, body: String) {
        self.status = status; self.contentType = contentType; self.body = body
    }

    init(_ response: Response) {
        status = response.status
        let lines = String(decoding: response.headerLines.readable, as: UTF8.self)
        contentType = lines.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-type: ") }
            .map { String($0.dropFirst("content-type: ".count)) }
        body = String(decoding: response.body.readable, as: UTF8.self)
    }
}

/// Parses `target` as `GET target HTTP/1.1` and calls `body` with the
/// request view a handler gets (no route parameters, no body).
func withRequest<R>(_ target: String, _ body: (HandlerRequest) throws -> R) rethrows -> R {
    let bytes = Array("GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
    var headers = HeaderTable()
    defer { headers.release() }
    var scan = HeadScan()
    return try bytes.withUnsafeBytes { buffer in
        guard case .complete(let head) = RequestParser().parse(buffer, headers: &headers, scan: &scan) else {
            preconditionFailure("test request \(target) does not parse")
        }
        let request = HandlerRequest(buffer: buffer, head: head, headers: headers,
                                     path: head.path.bytes(in: buffer), parameters: RouteParameters(),
                                     parameterNames: [], body: UnsafeRawBufferPointer(start: nil, count: 0))
        return try body(request)
    }
}

/// Runs a sync handler for `GET target`.
func answer(_ handler: any SyncHandler, _ target: String) throws -> Answer {
    try withRequest(target) { request in
        var response = Response()
        defer { response.release() }
        try handler.respond(to: request, into: &response)
        return Answer(response)
    }
}

/// A server status for handlers that ask: serving, no loops.
struct FixedStatus: ServerStatus {
    var phase: LifecyclePhase = .serving
    func forEachLoopLag(_ body: (String, UInt64) -> Void) {}
    var configDetails: [String] { [] }
}

/// A route to `handler` with `options`, as the config would give it.
func route(_ handler: String, options: [String: OptionValue] = [:], kind: HandlerKind = .sync) throws -> RouteSpec {
    RouteSpec(path: "/t", pattern: try RoutePattern(parsing: "/t"), methods: [.get, .head], handler: handler,
              handlerKind: kind, declaredMode: nil, effectiveMode: kind == .sync ? .sync : .async, pool: nil,
              timeoutMs: nil, allow: [], compression: true, options: options, warnings: [],
              location: SourceLocation(file: "t.yaml", line: 1, column: 1))
}

/// An event loop running on its own thread, for async handlers.
final class RunningLoop: @unchecked Sendable {
    final class Idle: EventLoopHandler {
        func handleEvent(tag: EventTag, events: UInt32, loop: EventLoop) {}
        func handleTimer(tag: UInt64, loop: EventLoop) {}
    }

    let loop: EventLoop
    private var thread = pthread_t()

    init() throws {
        loop = try EventLoop(index: 0, name: "sy-test-loop")
        let box = Unmanaged.passRetained(self)
        pthread_create(&thread, nil, { raw in
            let me = Unmanaged<RunningLoop>.fromOpaque(raw!).takeRetainedValue()
            me.loop.run(Idle())
            return nil
        }, box.toOpaque())
    }

    /// Runs an async handler for `GET target` in a task on the loop.
    func answer(_ handler: any AsyncHandler, _ target: String) async throws -> Answer {
        let loop = self.loop
        return try await Task(executorPreference: loop) {
            try await withRequestAsync(target) { request in
                var response = Response()
                defer { response.release() }
                try await handler.respond(to: request, into: &response, loop: loop)
                return Answer(response)
            }
        }.value
    }

    func stop() {
        loop.stop()
        pthread_join(thread, nil)
    }
}

/// `withRequest` for an async body.
func withRequestAsync<R>(_ target: String, _ body: (HandlerRequest) async throws -> R) async rethrows -> R {
    let bytes = Array("GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
    var headers = HeaderTable()
    defer { headers.release() }
    var scan = HeadScan()
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
    defer { buffer.deallocate() }
    buffer.copyBytes(from: bytes)
    let raw = UnsafeRawBufferPointer(buffer)
    guard case .complete(let head) = RequestParser().parse(raw, headers: &headers, scan: &scan) else {
        preconditionFailure("test request \(target) does not parse")
    }
    let request = HandlerRequest(buffer: raw, head: head, headers: headers,
                                 path: head.path.bytes(in: raw), parameters: RouteParameters(),
                                 parameterNames: [], body: UnsafeRawBufferPointer(start: nil, count: 0))
    return try await body(request)
}
