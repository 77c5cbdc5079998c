import SwitchyardCompression
import SwitchyardConfig
import SwitchyardExecution
import SwitchyardHTTP
import SwitchyardPlugins
import SwitchyardRouting

/// The routes of one config generation, compiled for the request path: the
/// byte-keyed router, each route's handler, and fixed responses rendered in
/// every content coding. Immutable and shared by all loops.
final class CompiledRoutes: @unchecked Sendable {
    /// A class, so the request path takes one reference instead of copying
    /// a struct full of arrays.
    final class Entry: Sendable {
        /// What answers the route and where it runs, as the request path
        /// needs it. One reference to copy per request, never the handler's content.
        enum Action: Sendable {
            /// A response rendered at load; written from the loop.
            case fixed(PrerenderedResponse)
            /// `sync`: called on the loop, answering before it returns.
            case inline(any SyncHandler)
            /// `async`: a task on the loop that owns the connection.
            case async(any AsyncHandler)
            /// `thread`: on a thread of this pool (the handle keeps it alive
            /// while an exchange of an older generation still needs it).
            case thread(any SyncHandler, PoolHandle)
            /// `process`: in a worker process, which built the handler with
            /// this index from its setup.
            case process(workerIndex: Int)
        }

        /// Its place in the config's routes.
        let index: Int
        let spec: RouteSpec
        let action: Action
        let parameterNames: [String]
        /// False when `compression: false` or compression is off globally.
        let compress: Bool
        /// Smaller answers are sent as they are.
        let compressionMinBytes: Int
        /// `timeout_ms` for an answer that leaves the loop; 0: none.
        let timeoutMs: UInt64
        /// ` route=… mode=…`, as its access-log lines end.
        let accessLogFields: [UInt8]

        init(index: Int, spec: RouteSpec, action: Action, parameterNames: [String], compress: Bool, compressionMinBytes: Int) {
            self.index = index; self.spec = spec; self.action = action
            self.parameterNames = parameterNames; self.compress = compress
            self.compressionMinBytes = compressionMinBytes
            self.timeoutMs = UInt64(spec.timeoutMs ?? 0)
            self.accessLogFields = AccessLogWriter.routeFields(path: spec.path, mode: spec.effectiveMode.rawValue)
        }
    }

    let router: Router
    let entries: [Entry]
    let compression: CompressionSettings
    /// Per route, in plain memory so the request path reads it without a
    /// retain: the fixed response, if the route has one, and whether `allow` applies.
    private let quick: UnsafeMutableBufferPointer<Quick>
    private struct Quick {
        var fixed: Unmanaged<PrerenderedResponse>?
        var restricted: Bool
    }

    /// - Parameters:
    ///   - threadPool: the pool for a thread-mode route's `pool:` (nil: the
    ///     default `thread_pool`); the server made one for each in use.
    ///   - workerIndex: a process-mode route's place in the workers' setup.
    init(config: Config, status: any ServerStatus, threadPool: (String?) -> PoolHandle?, workerIndex: (Int) -> Int) {
        compression = config.compression
        router = Router(routes: config.routes.map { Router.Route(pattern: $0.pattern, methods: $0.methods) })
        entries = config.routes.enumerated().map { index, spec in
            let compress = config.compression.enabled && spec.compression
            let action: Entry.Action
            switch (spec.effectiveMode, Builtins.makeHandler(for: spec, status: status)) {
            case (_, .fixed(let content)):
                action = .fixed(PrerenderedResponse(content, compress: compress, settings: config.compression))
            case (.process, _):
                action = .process(workerIndex: workerIndex(index))
            case (.thread, .sync(let handler)):
                action = .thread(handler, threadPool(spec.pool)!)
            case (_, .sync(let handler)):
                action = .inline(handler)
            case (_, .async(let handler)):
                action = .async(handler)
            }
            return Entry(index: index, spec: spec, action: action, parameterNames: spec.pattern.parameterNames,
                         compress: compress, compressionMinBytes: config.compression.minBytes)
        }
        quick = .allocate(capacity: max(1, entries.count))
        for (index, entry) in entries.enumerated() {
            var fixed: Unmanaged<PrerenderedResponse>?
            if case .fixed(let response) = entry.action { fixed = Unmanaged.passUnretained(response) }
            quick[index] = Quick(fixed: fixed, restricted: !entry.spec.allow.isEmpty)
        }
    }

    deinit { quick.deallocate() }

    /// The route's fixed response, unretained: `entries` keeps it alive.
    @inline(__always) func fixedResponse(_ index: Int) -> Unmanaged<PrerenderedResponse>? { quick[index].fixed }
    /// Whether the route has an `allow` list.
    @inline(__always) func isRestricted(_ index: Int) -> Bool { quick[index].restricted }
}

/// A fixed response rendered once per content coding: everything after the
/// status line and the per-request lines (Server, Date, Connection). Kept in
/// plain memory owned by this object, so writing one retains nothing.
final class PrerenderedResponse: @unchecked Sendable {
    struct Variant {
        /// Header lines from Content-Type to the blank line.
        let head: UnsafeRawBufferPointer
        /// `head` and the body after it, in one piece: one copy per answer.
        let headAndBody: UnsafeRawBufferPointer
        /// Head of the 304 answer for a matching If-None-Match.
        let notModifiedHead: UnsafeRawBufferPointer
    }

    /// The status line and the Server line, which come before Date.
    let prefix: UnsafeRawBufferPointer
    let identity: Variant, gzip: Variant, deflate: Variant
    /// Whether the coding is negotiated (body compressible and large enough).
    let negotiates: Bool
    /// The identity ETag, quoted, for If-None-Match.
    let etag: UnsafeRawBufferPointer?
    private let owned: [UnsafeMutableRawBufferPointer]

    @inline(__always) func variant(_ coding: ContentCoding) -> Variant {
        switch coding {
        case .identity: return identity
        case .gzip: return gzip
        case .deflate: return deflate
        }
    }

    init(_ content: FixedContent, compress: Bool, settings: CompressionSettings) {
        var owned: [UnsafeMutableRawBufferPointer] = []
        func keep(_ bytes: [UInt8]) -> UnsafeRawBufferPointer {
            let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
            memory.copyBytes(from: bytes)
            owned.append(memory)
            return UnsafeRawBufferPointer(memory)
        }
        prefix = keep(StatusLine.table[content.status] + HTTPLoop.serverLine.withUTF8Buffer { Array($0) })
        etag = content.etag.map { keep(Array($0.utf8)) }
        let typeBytes = Array(content.contentType.utf8)
        let deflater = Deflater(level: settings.level)   // nil only without memory: then identity only
        let negotiates = deflater != nil && typeBytes.withUnsafeBytes {
            CompressiblePolicy.negotiates(routeCompresses: compress, status: content.status, bodyBytes: content.body.count,
                                          minBytes: settings.minBytes, contentType: $0)
        }
        func render(_ coding: ContentCoding) -> Variant {
            var body = content.body
            if negotiates, coding != .identity {
                var out = ByteBuffer()
                content.body.withUnsafeBytes { deflater!.compress($0, coding: coding, into: &out) }
                body = Array(out.readable)
                out.release()
            }
            var etagLine: [UInt8] = []
            if let etag = content.etag {
                var line = ByteBuffer()
                line.append("ETag: ")
                var quoted = etag
                quoted.withUTF8 { ETagVariant.append(UnsafeRawBufferPointer($0), coding: negotiates ? coding : .identity, to: &line) }
                line.append("\r\n")
                etagLine = Array(line.readable)
                line.release()
            }
            var varyAndCoding = ""
            if negotiates {
                varyAndCoding += "Vary: Accept-Encoding\r\n"
                if coding != .identity { varyAndCoding += "Content-Encoding: \(coding.headerValue)\r\n" }
            }
            // 204 and 304 carry neither a body nor its length (RFC 9110 §8.6).
            let length = StatusLine.allowsBody(content.status) ? "Content-Length: \(body.count)\r\n" : ""
            let head = Array("Content-Type: \(content.contentType)\r\n".utf8) + etagLine
                + Array("\(varyAndCoding)\(length)\r\n".utf8)
            let notModified = etagLine + Array(negotiates ? "Vary: Accept-Encoding\r\n\r\n".utf8 : "\r\n".utf8)
            let headAndBody = keep(head + body)
            return Variant(head: UnsafeRawBufferPointer(rebasing: headAndBody[0..<head.count]), headAndBody: headAndBody,
                           notModifiedHead: keep(notModified))
        }
        identity = render(.identity)
        gzip = render(.gzip)
        deflate = render(.deflate)
        self.negotiates = negotiates
        self.owned = owned
    }

    deinit { owned.forEach { $0.deallocate() } }
}
