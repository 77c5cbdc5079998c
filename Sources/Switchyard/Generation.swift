#if canImport(Glibc)
import Glibc
#endif
import SwitchyardConfig
import SwitchyardEventLoop
import SwitchyardExecution
import SwitchyardHTTP

/// Everything one config decides, immutable once built: routes (with their
/// handlers and pools), limits, parser and timeouts, compression, the
/// listeners to accept on, the worker processes. A reload builds the next
/// one whole — or fails and changes nothing — then each loop adopts it at a
/// turn boundary.
///
/// A request finishes under the generation it began with: its exchange (or
/// its connection, while a body arrives) holds the generation, and with it
/// the pools it may still need. When the last holder lets go, the pools the
/// next generation did not take over wind down on their own.
final class Generation: @unchecked Sendable {
    let number: Int
    let config: Config
    let routes: CompiledRoutes
    let limits: Limits
    let timeouts: ConnectionTimeouts
    let parser: RequestParser
    let listeners: [Listener]
    /// Thread pools by `pool:` name ("" for `thread_pool`), shared with the
    /// next generation when their settings stay the same.
    let threadPools: [String: PoolHandle]
    /// The worker processes, when a route runs in one; on loop 0.
    let workers: WorkerPoolHandle?
    /// When it was built (wall clock), for the status line.
    let builtAt: String
    /// Where its access log goes; nil when it is off.
    let accessLog: AccessLogSink?

    init(number: Int, config: Config, routes: CompiledRoutes, listeners: [Listener],
         threadPools: [String: PoolHandle], workers: WorkerPoolHandle?, accessLog: AccessLogSink?) {
        self.number = number
        self.config = config
        self.routes = routes
        self.limits = config.limits
        self.timeouts = ConnectionTimeouts(headerMs: UInt64(config.limits.headerTimeoutMs),
                                           idleMs: UInt64(config.limits.idleTimeoutMs),
                                           minDataRate: config.limits.minDataRateBytesPerSecond)
        self.parser = RequestParser(maxHeaderBytes: config.limits.maxHeaderBytes, maxTargetBytes: config.limits.maxTargetBytes)
        self.listeners = listeners
        self.threadPools = threadPools
        self.workers = workers
        self.builtAt = Generation.clockTime()
        self.accessLog = accessLog
    }

    /// `14:02:11` (UTC), for status lines.
    static func clockTime() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }

    /// `12 routes on 127.0.0.1:8080; pools default 40; 2 workers`.
    var summary: String {
        var text = "\(config.routes.count) route\(config.routes.count == 1 ? "" : "s") on "
            + listeners.map(\.boundDescription).joined(separator: ", ")
        if !threadPools.isEmpty {
            text += "; thread pools " + threadPools.values.map { "\($0.pool.name) \($0.pool.threadCount)" }.sorted().joined(separator: ", ")
        }
        if let workers { text += "; \(workers.pool.settings.size) worker process\(workers.pool.settings.size == 1 ? "" : "es")" }
        return text
    }
}

/// A generation's hold on a thread pool. When no generation (and no exchange
/// of one) holds it any more, the pool's threads finish what is queued and end.
final class PoolHandle: Sendable {
    let pool: ThreadPool
    let size: Int
    let queue: Int

    init(pool: ThreadPool, size: Int, queue: Int) {
        self.pool = pool; self.size = size; self.queue = queue
    }

    deinit { pool.stop() }
}

/// A generation's hold on its worker processes. When no generation holds
/// them any more, loop 0 retires them: they finish their jobs and exit.
final class WorkerPoolHandle: @unchecked Sendable {
    let pool: ProcessPool
    /// Loop 0's inbox, where the pool lives.
    let home: LoopInbox<LoopMessage>

    init(pool: ProcessPool, home: LoopInbox<LoopMessage>) {
        self.pool = pool
        self.home = home
    }

    deinit { home.post(.retireWorkers(pool)) }
}
