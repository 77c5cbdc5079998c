import SwitchyardEventLoop
import SwitchyardHTTP

/// A synchronous handler: it answers before returning. It runs where its
/// route's mode says — on the event loop (`sync`: it must not block), on a
/// pool thread (`thread`) or in a worker process (`process`) — so it must be
/// `Sendable` and keep no unguarded state. A thrown error answers 500.
public protocol SyncHandler: Sendable {
    /// Writes the answer into `response` (already reset: status 200, empty).
    func respond(to request: HandlerRequest, into response: inout Response) throws
}

/// An asynchronous handler: it runs on the event loop that owns the
/// connection, in a task whose executor is that loop, and may `await` —
/// `loop.sleep(milliseconds:)`, `loop.waitUntilReadable(_:)` — while the loop
/// serves others. Between awaits it holds the loop like a sync handler does.
/// Cancelled when its client goes away or its `timeout_ms` passes.
public protocol AsyncHandler: Sendable {
    func respond(to request: HandlerRequest, into response: inout Response, loop: EventLoop) async throws
}

/// A response that does not depend on the request, rendered once when routes
/// are built; the server precomputes its compressed variants too.
public struct FixedContent: Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    /// A strong entity tag, quoted, e.g. `"5d41402abc4b2a76"`.
    public var etag: String?

    public init(status: Int, contentType: String, body: [UInt8], etag: String?) {
        self.status = status; self.contentType = contentType; self.body = body; self.etag = etag
    }
}

/// How a route's handler is invoked; an enum so dispatch is a switch, not an
/// existential built per request.
public enum RouteHandler: Sendable {
    case fixed(FixedContent)
    case sync(any SyncHandler)
    case async(any AsyncHandler)
}

/// Where the server is in its life, for `/readyz`.
public enum LifecyclePhase: String, Sendable {
    case starting, serving, draining
}

/// What built-in handlers may ask of the running server. Thread-safe.
public protocol ServerStatus: Sendable {
    var phase: LifecyclePhase { get }
    /// Calls `body` for each event loop with its thread name and how long ago
    /// it last turned. A visitor, not an array, so a health probe allocates nothing.
    func forEachLoopLag(_ body: (_ name: String, _ lagMilliseconds: UInt64) -> Void)
    /// Lines about the config being served — generation, content hash, the
    /// last reload and its outcome — for `/readyz?verbose`.
    var configDetails: [String] { get }
}
