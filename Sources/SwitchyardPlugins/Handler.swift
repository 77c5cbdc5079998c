import SwitchyardConfig
import SwitchyardHTTP

/// A synchronous handler: it answers before returning. On the event loop it
/// must not block (declare `mode: thread` if it does). It may run on several
/// loops at once, so it must be `Sendable` and keep no unguarded state.
public protocol SyncHandler: Sendable {
    /// Writes the answer into `response` (already reset: status 200, empty).
    /// Runs on the thread its route's mode names.
    func respond(to request: HandlerRequest, into response: inout Response)
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
/// existential built per request. Thread and process modes wrap `.sync`
/// handlers when they arrive; async handlers get their own case.
public enum RouteHandler: Sendable {
    case fixed(FixedContent)
    case sync(any SyncHandler)
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
}
