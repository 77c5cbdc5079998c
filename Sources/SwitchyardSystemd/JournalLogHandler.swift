#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization

/// swift-log lines on stderr, one `write` per event so lines from several
/// threads never interleave.
///
/// Under systemd, when `JOURNAL_STREAM` names the very file stderr is, each
/// line starts with its syslog priority (`<4>` for a warning) and carries no
/// timestamp of its own — the journal adds one — so `journalctl -p warning`
/// filters. Otherwise lines read `2026-12-02T14:36:21.123Z warning
/// switchyard: …`. Metadata follows the message as `key=value`; a message's
/// own line breaks are written as `\n`, so one event stays one line.
public struct JournalLogHandler: LogHandler {
    /// The level every copy of this handler reads, so a reload can change it.
    private let level: SharedLogLevel
    public var metadata: Logger.Metadata = [:]
    private let journal: Bool
    /// Where lines go: stderr, except in tests.
    private let fd: Int32

    public var logLevel: Logger.Level {
        get { level.value }
        set { level.value = newValue }
    }

    public init(level: SharedLogLevel, journal: Bool = JournalLogHandler.stderrIsJournal()) {
        self.init(level: level, journal: journal, fd: 2)
    }

    init(level: SharedLogLevel, journal: Bool, fd: Int32) {
        self.level = level
        self.journal = journal
        self.fd = fd
    }

    public init(level: Logger.Level, journal: Bool = JournalLogHandler.stderrIsJournal()) {
        self.init(level: SharedLogLevel(level), journal: journal)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Whether `JOURNAL_STREAM` (`DEVICE:INODE`) is stderr itself: only then
    /// does systemd read the priority prefixes (a child whose stderr was
    /// redirected elsewhere inherits the variable but not the journal).
    public static func stderrIsJournal() -> Bool {
        isJournal(fd: 2, journalStream: getenv("JOURNAL_STREAM").map { String(cString: $0) })
    }

    /// Whether `journalStream` (`DEVICE:INODE`) names the file `fd` is.
    static func isJournal(fd: Int32, journalStream: String?) -> Bool {
        guard let value = journalStream else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var status = stat()
        guard fstat(fd, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?,
                    source: String, file: String, function: String, line: UInt) {
        var text = journal ? "<\(Self.priority(level))>" : Self.timestamp() + " \(level) "
        text += "switchyard: "
        text += Self.oneLine(message.description)
        let all = extra.map { metadata.merging($0) { $1 } } ?? metadata
        for (key, value) in all.sorted(by: { $0.key < $1.key }) {
            text += " \(key)=\(Self.oneLine("\(value)"))"
        }
        text += "\n"
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 { if errno == EINTR { continue }; return }
                offset += n
            }
        }
    }

    /// syslog(3) priorities, as the journal reads them.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    static func oneLine(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// UTC, to the millisecond.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let millis = Int(now.tv_nsec / 1_000_000)
        let ms = millis < 10 ? "00\(millis)" : (millis < 100 ? "0\(millis)" : "\(millis)")
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }

    /// The level `SWITCHYARD_LOG_LEVEL` names (`trace` … `critical`), if any.
    public static func levelFromEnvironment() -> Logger.Level? {
        guard let value = getenv("SWITCHYARD_LOG_LEVEL").map({ String(cString: $0).lowercased() }) else { return nil }
        return Logger.Level(rawValue: value)
    }
}

/// A log level shared by every logger of the process. Thread-safe.
public final class SharedLogLevel: Sendable {
    private let raw: Atomic<UInt8>
    private static let levels = Logger.Level.allCases

    public init(_ level: Logger.Level) {
        raw = Atomic(UInt8(SharedLogLevel.levels.firstIndex(of: level)!))
    }

    public var value: Logger.Level {
        get { SharedLogLevel.levels[Int(raw.load(ordering: .relaxed))] }
        set { raw.store(UInt8(SharedLogLevel.levels.firstIndex(of: newValue)!), ordering: .relaxed) }
    }
}
