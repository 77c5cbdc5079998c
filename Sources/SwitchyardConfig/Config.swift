#if canImport(Glibc)
import Glibc
#endif
import SwitchyardRouting

/// A validated configuration: every default applied, every route resolved to
/// the mode it will run in. Produced by `ConfigLoader`; immutable once built.
public struct Config: Sendable {
    /// The file it came from, or `<embedded default>`.
    public var source: String
    public var listen: [ListenAddress]
    /// Already resolved: `auto` becomes the number of cores.
    public var eventLoops: Int
    public var limits: Limits
    /// Control socket path, if set in the file.
    public var control: String?
    public var compression: CompressionSettings
    public var threadPool: PoolSettings
    public var threadPools: [String: PoolSettings]
    public var processPool: PoolSettings
    /// `default_mode:` — the mode of routes whose sync handler declares none
    /// (`sync`, `thread` or `process`; never `async`), or nil when unset.
    /// Already applied: such routes carry it as `effectiveMode`, with
    /// `RouteSpec.defaultModeApplied` set.
    public var defaultMode: ExecutionMode?
    public var plugins: [PluginSpec]
    public var routes: [RouteSpec]
    /// Warnings found while loading (implicit sync mode, …), in file order.
    public var warnings: [Diagnostic]
    /// `reload_on_change:` — reload when a file read, or a directory an
    /// include pattern looks in, changes.
    public var reloadOnChange = false
    /// `log_level:`, if set (`SWITCHYARD_LOG_LEVEL` wins over it).
    public var logLevel: LogLevel?
    /// `access_log:` — off unless set.
    public var accessLog = AccessLogSettings()
    /// Every file read, the main one first (none for the embedded default).
    public var files: [String] = []
    /// Directories whose changes can change the config: those of the files
    /// read and those the include patterns look in.
    public var watchDirectories: [String] = []
    /// FNV-1a 64 of every file's name and text, as 16 hex digits: which
    /// config a generation serves.
    public var contentHash = ""

    public init(source: String, listen: [ListenAddress], eventLoops: Int, limits: Limits,
                control: String?, compression: CompressionSettings, threadPool: PoolSettings,
                threadPools: [String: PoolSettings], processPool: PoolSettings,
                plugins: [PluginSpec], routes: [RouteSpec], warnings: [Diagnostic],
                defaultMode: ExecutionMode? = nil) {
        self.source = source; self.listen = listen; self.eventLoops = eventLoops
        self.limits = limits; self.control = control; self.compression = compression
        self.threadPool = threadPool; self.threadPools = threadPools
        self.processPool = processPool; self.plugins = plugins; self.routes = routes
        self.warnings = warnings; self.defaultMode = defaultMode
    }
}

/// `access_log:` — one line per request, to stderr or a file, every request
/// or one in `sample`.
public struct AccessLogSettings: Sendable, Hashable {
    public enum Destination: Sendable, Hashable {
        case off
        case stderr
        /// Opened for appending when a generation starts, so a reload reopens
        /// it (after log rotation). Relative paths are resolved against the
        /// config file's directory.
        case file(String)
    }
    public var destination = Destination.off
    /// Log one request in this many (1: every request).
    public var sample = 1
    /// Where the destination is written in the config, for messages about
    /// it; not part of what the settings are (== and the hash leave it out).
    public var location: SourceLocation?
    public init() {}
    public init(destination: Destination, sample: Int = 1) {
        self.destination = destination
        self.sample = sample
    }

    public static func == (a: Self, b: Self) -> Bool { a.destination == b.destination && a.sample == b.sample }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(destination)
        hasher.combine(sample)
    }

    /// Why the file could not be opened for appending by this process, as
    /// `check` can tell without creating it; nil when it could (or is no file).
    public var fileProblem: String? {
        guard case .file(let path) = destination else { return nil }
        var info = stat()
        if stat(path, &info) == 0 {
            if (info.st_mode & S_IFMT) == S_IFDIR { return "Is a directory" }
            return access(path, W_OK) == 0 ? nil : String(cString: strerror(errno))
        }
        guard errno == ENOENT else { return String(cString: strerror(errno)) }
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        return access(directory.isEmpty ? (path.hasPrefix("/") ? "/" : ".") : directory, W_OK | X_OK) == 0
            ? nil : String(cString: strerror(errno))
    }
}

/// How much the daemon logs, as swift-log's levels are named.
public enum LogLevel: String, Sendable, Hashable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

/// Where to listen: `host:port`, `[v6]:port` or `unix:/path`.
public enum ListenAddress: Sendable, Hashable, CustomStringConvertible {
    case ipv4(host: String, port: UInt16)
    case ipv6(host: String, port: UInt16)
    case unix(path: String)

    public var description: String {
        switch self {
        case .ipv4(let host, let port): return "\(host):\(port)"
        case .ipv6(let host, let port): return "[\(host)]:\(port)"
        case .unix(let path): return "unix:\(path)"
        }
    }
}

public struct Limits: Sendable, Hashable {
    public var maxHeaderBytes = 16384
    public var maxBodyBytes = 1_048_576
    /// Longest request target before 414. Not in the contract's example; ours.
    public var maxTargetBytes = 8192
    public var headerTimeoutMs = 10_000
    public var idleTimeoutMs = 75_000
    public var maxConnections = 10_000
    public var shutdownTimeoutMs = 10_000
    /// A body sent, or an answer read, slower than this (bytes per second,
    /// averaged since it began) is cut once `minDataRateGraceMs` has passed.
    /// 0 turns the check off. Kestrel's minimum data rate.
    public var minDataRateBytesPerSecond = 240
    /// Request bodies and unsent answers held in memory, all connections
    /// together. Past it new bodies get 503 and connections over their share
    /// are not read until it drains.
    public var maxBufferedBytes = 268_435_456
    /// How long a body or an answer may run below the minimum rate at first.
    public static let minDataRateGraceMs = 5000
    public init() {}
}

public struct CompressionSettings: Sendable, Hashable {
    public var enabled = true
    public var minBytes = 1024
    /// zlib level 1…9.
    public var level = 6
    public init() {}
}

/// A thread pool's or the process pool's settings.
public struct PoolSettings: Sendable, Hashable {
    /// Threads or workers; `nil` means auto (one per core).
    public var size: Int?
    /// Jobs that may wait; past it, requests get 503 with Retry-After.
    public var queue: Int
    /// Process pool only (`process_pool.max_jobs`): a worker that has run
    /// this many jobs is replaced by a fresh one. 0 (the default) never
    /// recycles. Always 0 for thread pools, which do not take the key.
    public var maxJobs: Int
    public init(size: Int?, queue: Int, maxJobs: Int = 0) {
        self.size = size; self.queue = queue; self.maxJobs = maxJobs
    }
}

public struct PluginSpec: Sendable, Hashable {
    public var name: String
    public var path: String
    public var location: SourceLocation
    public init(name: String, path: String, location: SourceLocation) {
        self.name = name; self.path = path; self.location = location
    }
}

/// How a handler runs; see the contract's execution-mode table.
public enum ExecutionMode: String, Sendable, Hashable, CaseIterable {
    case sync, async, thread, process
}

/// Whether a handler function is synchronous or asynchronous; its plugin says.
public enum HandlerKind: String, Sendable, Hashable {
    case sync, async
}

/// A route option's value, as written in YAML.
public indirect enum OptionValue: Sendable, Hashable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case list([OptionValue])
    case map([String: OptionValue])

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var intValue: Int? { if case .int(let i) = self { return i } else { return nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
}

/// An allowed client network, `10.0.0.0/8` or a single address.
public struct NetworkPrefix: Sendable, Hashable, CustomStringConvertible {
    /// 16 bytes; IPv4 is stored as an IPv4-mapped IPv6 address (::ffff:a.b.c.d).
    public var address: [UInt8]
    /// Prefix length over the 128-bit form.
    public var prefixLength: Int
    public var text: String

    public init(address: [UInt8], prefixLength: Int, text: String) {
        self.address = address; self.prefixLength = prefixLength; self.text = text
    }

    public var description: String { text }

    /// Whether a 16-byte address (IPv4 mapped as above) lies in this network.
    public func contains(_ other: UnsafeRawBufferPointer) -> Bool {
        precondition(other.count == 16)
        var bits = prefixLength
        var i = 0
        while bits > 0 {
            let mask: UInt8 = bits >= 8 ? 0xff : ~(0xff >> UInt8(bits))
            if (address[i] & mask) != (other[i] & mask) { return false }
            bits -= 8; i += 1
        }
        return true
    }
}

/// One route as configured, with its mode resolved.
public struct RouteSpec: Sendable, Hashable {
    public var path: String
    public var pattern: RoutePattern
    public var methods: MethodSet
    /// `PLUGIN.FUNCTION`.
    public var handler: String
    public var handlerKind: HandlerKind
    /// What the route itself said (`mode:` or `sync_to_thread:`), if anything;
    /// never the config's `default_mode`.
    public var declaredMode: ExecutionMode?
    /// Where it runs, after the contract's table (with `default_mode` taken
    /// for a sync handler that declares nothing).
    public var effectiveMode: ExecutionMode
    /// True when the route declares no mode and its sync handler took the
    /// config's `default_mode`, which is then `effectiveMode`.
    public var defaultModeApplied: Bool
    /// The named pool from `thread_pools` (`pool:`) a thread-mode route runs
    /// in; nil means the shared `thread_pool`. Always nil unless
    /// `effectiveMode` is `.thread`.
    public var pool: String?
    public var timeoutMs: Int?
    /// Empty means everyone.
    public var allow: [NetworkPrefix]
    /// `compression: false` turns gzip off for this route.
    public var compression: Bool
    public var options: [String: OptionValue]
    /// Warnings about this route (also in `Config.warnings`).
    public var warnings: [Diagnostic]
    public var location: SourceLocation

    public init(path: String, pattern: RoutePattern, methods: MethodSet, handler: String,
                handlerKind: HandlerKind, declaredMode: ExecutionMode?, effectiveMode: ExecutionMode,
                pool: String?, timeoutMs: Int?, allow: [NetworkPrefix], compression: Bool,
                options: [String: OptionValue], warnings: [Diagnostic], location: SourceLocation,
                defaultModeApplied: Bool = false) {
        self.path = path; self.pattern = pattern; self.methods = methods; self.handler = handler
        self.handlerKind = handlerKind; self.declaredMode = declaredMode
        self.effectiveMode = effectiveMode; self.defaultModeApplied = defaultModeApplied
        self.pool = pool; self.timeoutMs = timeoutMs
        self.allow = allow; self.compression = compression; self.options = options
        self.warnings = warnings; self.location = location
    }
}

/// What the loader needs to know about handlers: which exist, their kind, and
/// which options they take. The plugins layer builds it; config stays below it.
public struct HandlerCatalog: Sendable {
    public struct Entry: Sendable {
        public enum OptionType: Sendable {
            case string
            /// A string that ends up in a header field: not empty, no control characters.
            case headerValue
            case int(ClosedRange<Int>)
            case bool, stringList, any
        }
        /// A rule across options, run once each has its type: the option at fault and why.
        public typealias Check = @Sendable ([String: OptionValue]) -> (option: String, message: String)?

        public var kind: HandlerKind
        public var options: [String: OptionType]
        public var check: Check?
        public init(kind: HandlerKind, options: [String: OptionType], check: Check? = nil) {
            self.kind = kind; self.options = options; self.check = check
        }
    }

    public var entries: [String: Entry]
    public init(entries: [String: Entry]) { self.entries = entries }
}
