#if canImport(Glibc)
import Glibc
#endif
import CSwitchyardLinux
import SwitchyardConfig
import SwitchyardEventLoop
import SwitchyardHTTP

/// Where a generation's access log goes: stderr or a file opened for
/// appending when the generation is built, so a reload (after log
/// rotation) reopens it. Shared by the loops; each writes whole lines.
final class AccessLogSink: Sendable {
    let fd: Int32
    /// One request in this many is logged.
    let sample: Int
    /// Pipes and terminals take writes of whole lines up to PIPE_BUF bytes,
    /// so lines from several loops never interleave; a file takes any size.
    let isRegularFile: Bool
    private let ownsDescriptor: Bool

    struct OpenError: Error, CustomStringConvertible {
        let description: String
        let errno: Int32
    }

    /// nil when the log is off.
    static func open(_ settings: AccessLogSettings) throws(OpenError) -> AccessLogSink? {
        switch settings.destination {
        case .off:
            return nil
        case .stderr:
            return AccessLogSink(fd: 2, sample: settings.sample, owns: false)
        case .file(let path):
            let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            guard fd >= 0 else {
                let code = errno
                let at = settings.location.map { "\($0): " } ?? ""
                throw OpenError(description: "\(at)cannot open access_log \(path): \(String(cString: strerror(code)))", errno: code)
            }
            return AccessLogSink(fd: fd, sample: settings.sample, owns: true)
        }
    }

    private init(fd: Int32, sample: Int, owns: Bool) {
        self.fd = fd
        self.sample = sample
        self.ownsDescriptor = owns
        var info = stat()
        isRegularFile = fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    deinit { if ownsDescriptor { close(fd) } }
}

/// One loop's access log: lines are formatted into a buffer the loop owns
/// and written once per loop turn (sooner past 64 KiB), so logging adds no
/// allocation and one write per turn, not per request.
///
/// A line: `time=2026-12-02T15:04:05.123Z client=127.0.0.1:50412 method=GET
/// target="/hello?x=1" status=200 bytes=135 duration_ms=0.021 route=/hello mode=sync`.
/// `bytes` is the whole answer (head and body); `duration_ms` runs from the
/// request being read (head and body) to its answer being written out;
/// `-` stands for what an answer without a request (a 400, a 408) lacks.
struct AccessLogWriter {
    /// The sink of the loop's generation; nil when logging is off.
    private(set) var sink: AccessLogSink?
    /// Whether lines are wanted at all: the one check on the request path.
    private(set) var isOn = false
    private var buffer = ByteBuffer()
    private var counter = 0

    /// The request being answered: set where a request is taken up, used by
    /// the answer written for it, cleared after.
    private var logging = false
    private var request = UnsafeRawBufferPointer(start: nil, count: 0)
    private var method = ByteRange.empty
    private var target = ByteRange.empty
    private var hasRequest = false
    private var route: Unmanaged<CompiledRoutes.Entry>?
    private var startMicroseconds: UInt64 = 0

    /// `time=YYYY-MM-DDTHH:MM:SS.` for the current wall-clock second.
    private var secondPrefix: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private var second = -1
    private static let secondPrefixLength = 25

    static let flushThreshold = 64 * 1024
    /// A line stays under PIPE_BUF (4,096 bytes), so a pipe takes it in one
    /// atomic write and lines from several loops never mix: a target is cut
    /// at 2,048 bytes as logged and a route at 1,024, each ending in `...`.
    static let maxTargetBytes = 2048
    static let maxRouteBytes = 1024
    /// Lines a full pipe did not take wait for the next turn, up to this
    /// much; past it they are dropped and counted.
    static let maxHeldBytes = 1 << 20
    /// Lines dropped since the loop last reported them.
    var droppedLines = 0
    /// Whether the last flush wrote all it had: the sink takes lines again.
    private(set) var caughtUp = true

    mutating func use(_ next: AccessLogSink?) {
        if next !== sink {
            flush()
            dropHeld()   // lines the old sink would not take are not the new one's
        }
        sink = next
        isOn = next != nil
        if !isOn { buffer.release() }
    }

    // MARK: The request in hand

    /// A request whose head has been read: logged if sampled. `sampled` is
    /// the connection's record of the choice, made the first time (`again`
    /// false) and kept while the head is parsed again as its body arrives.
    mutating func begin(_ head: RequestHead, _ request: UnsafeRawBufferPointer, again: Bool, sampled: inout Bool) {
        guard let sink else { return }
        if !again {
            counter &+= 1
            sampled = sink.sample == 1 || counter % sink.sample == 0
        }
        hasRequest = true
        logging = sampled
        guard logging else { return }
        self.request = request
        method = head.methodRange
        target = head.target
        route = nil
        startMicroseconds = MonotonicClock.nowMicroseconds()
    }

    /// Whether the request in hand is sampled.
    var isLogging: Bool { logging }

    /// A request coming back from a hand-off, sampled when it was read: its
    /// own copy of the bytes, its route, and the time it was handed off.
    mutating func resume(_ exchange: Exchange) {
        clear()
        hasRequest = true
        logging = exchange.accessLogged
        guard logging else { return }
        request = exchange.bytes.readable
        method = exchange.head.methodRange
        target = exchange.head.target
        route = .passUnretained(exchange.route)
        startMicroseconds = exchange.startedAt
    }

    /// The route the request found (it outlives the answer: its generation does).
    mutating func found(_ entry: CompiledRoutes.Entry) {
        if logging { route = .passUnretained(entry) }
    }

    /// Nothing is being answered: an answer now (a 408) logs `-` for the request.
    mutating func clear() {
        logging = false
        hasRequest = false
        route = nil
        request = UnsafeRawBufferPointer(start: nil, count: 0)
    }

    // MARK: Lines

    /// One answer has been written at `output[from...]`: its line, if the
    /// request in hand is sampled (an answer without one always is).
    mutating func answered(_ output: ByteBuffer, from start: Int, client fd: Int32) {
        guard isOn else { return }
        defer { clear() }
        if hasRequest, !logging { return }
        let answer = UnsafeRawBufferPointer(start: output.base! + start, count: output.count - start)
        guard answer.count >= 12 else { return }
        buffer.reserve(512)
        appendTime()
        buffer.append(" client=")
        appendClient(fd)
        buffer.append(" method=")
        if hasRequest { Self.appendEscaped(method.bytes(in: request), to: &buffer) } else { buffer.append(UInt8(ascii: "-")) }
        buffer.append(" target=\"")
        if hasRequest {
            Self.appendEscaped(target.bytes(in: request), limit: Self.maxTargetBytes, to: &buffer)
        } else {
            buffer.append(UInt8(ascii: "-"))
        }
        buffer.append("\" status=")
        buffer.append(UnsafeRawBufferPointer(rebasing: answer[9..<12]))
        buffer.append(" bytes=")
        buffer.appendDecimal(answer.count)
        buffer.append(" duration_ms=")
        if hasRequest {
            let micros = MonotonicClock.nowMicroseconds() &- startMicroseconds
            buffer.appendDecimal(Int(micros / 1000))
            buffer.append(UInt8(ascii: "."))
            buffer.appendDigits(Int(micros % 1000), count: 3)
        } else {
            buffer.append(UInt8(ascii: "-"))
        }
        if let route {
            route._withUnsafeGuaranteedRef { buffer.append($0.accessLogFields) }
        } else {
            buffer.append(" route=- mode=-")
        }
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= Self.flushThreshold { flush() }
    }

    /// Writes what the turn logged. What a full pipe (a non-blocking one
    /// nobody reads) does not take is kept for the next turn; what cannot be
    /// written at all (a full disk, a closed pipe) is dropped and counted.
    mutating func flush() {
        guard buffer.count > 0, let sink else { buffer.count = 0; return }
        let all = buffer.readable
        var offset = 0
        var wouldBlock = false
        while offset < all.count {
            var end = all.count
            if !sink.isRegularFile, end - offset > Int(PIPE_BUF) {
                // Whole lines, at most PIPE_BUF bytes: one atomic write each.
                end = offset + Int(PIPE_BUF)
                while end > offset, all[end - 1] != UInt8(ascii: "\n") { end -= 1 }
                if end == offset { end = min(all.count, offset + Int(PIPE_BUF)) }
            }
            let n = write(sink.fd, all.baseAddress! + offset, end - offset)
            if n < 0 {
                if errno == EINTR { continue }
                wouldBlock = errno == EAGAIN || errno == EWOULDBLOCK
                break
            }
            offset += n
        }
        caughtUp = offset == all.count
        if caughtUp {
            buffer.count = 0
            if buffer.capacity > 4 * Self.flushThreshold { buffer.release() }
            return
        }
        buffer.consumeFront(offset)
        if !wouldBlock || buffer.count > Self.maxHeldBytes { dropHeld() }
    }

    private mutating func dropHeld() {
        guard buffer.count > 0 else { return }
        droppedLines += buffer.readable.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        buffer.count = 0
    }

    mutating func release() {
        flush()
        buffer.release()
    }

    private mutating func appendTime() {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        if Int(ts.tv_sec) != second {
            second = Int(ts.tv_sec)
            var t = time_t(ts.tv_sec)
            var parts = tm()
            gmtime_r(&t, &parts)
            withUnsafeMutableBytes(of: &secondPrefix) { out in
                var i = 0
                func put(_ text: StaticString) { for k in 0..<text.utf8CodeUnitCount { out[i] = text.utf8Start[k]; i += 1 } }
                func digits(_ value: Int32, _ count: Int) {
                    var divisor: Int32 = 1
                    for _ in 1..<count { divisor *= 10 }
                    while divisor > 0 { out[i] = UInt8(48 + value / divisor % 10); i += 1; divisor /= 10 }
                }
                put("time="); digits(parts.tm_year + 1900, 4); put("-"); digits(parts.tm_mon + 1, 2); put("-")
                digits(parts.tm_mday, 2); put("T"); digits(parts.tm_hour, 2); put(":"); digits(parts.tm_min, 2)
                put(":"); digits(parts.tm_sec, 2); put(".")
            }
        }
        buffer.append(prefixOf: secondPrefix, byteCount: Self.secondPrefixLength)
        buffer.appendDigits(Int(ts.tv_nsec) / 1_000_000, count: 3)
        buffer.append(UInt8(ascii: "Z"))
    }

    /// `127.0.0.1:50412`, `[::1]:50412`, or `unix` for a Unix-socket client.
    private mutating func appendClient(_ fd: Int32) {
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let got = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard got == 0 else { buffer.append(UInt8(ascii: "-")); return }
        switch Int32(address.ss_family) {
        case AF_INET:
            withUnsafeBytes(of: &address) { raw in
                let port = UInt16(raw[2]) << 8 | UInt16(raw[3])
                for i in 0..<4 {
                    if i > 0 { buffer.append(UInt8(ascii: ".")) }
                    buffer.appendDecimal(Int(raw[4 + i]))
                }
                buffer.append(UInt8(ascii: ":"))
                buffer.appendDecimal(Int(port))
            }
        case AF_INET6:
            var text: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)   // INET6_ADDRSTRLEN = 46
            withUnsafeBytes(of: &address) { raw in
                let port = UInt16(raw[2]) << 8 | UInt16(raw[3])
                withUnsafeMutableBytes(of: &text) { out in
                    guard inet_ntop(AF_INET6, raw.baseAddress! + 8, out.baseAddress!.assumingMemoryBound(to: CChar.self),
                                    socklen_t(out.count)) != nil else { return }
                    buffer.append(UInt8(ascii: "["))
                    buffer.append(UnsafeRawBufferPointer(rebasing: out[0..<strlen(out.baseAddress!.assumingMemoryBound(to: CChar.self))]))
                    buffer.append("]:")
                    buffer.appendDecimal(Int(port))
                }
            }
        default:
            buffer.append("unix")
        }
    }

    /// Request bytes as they came, but `"` and `\` (which would end or
    /// escape the quoted value) as `\x22` and `\x5C`; past `limit` bytes as
    /// written, cut, ending in `...`.
    static func appendEscaped(_ bytes: UnsafeRawBufferPointer, limit: Int = .max, to buffer: inout ByteBuffer) {
        // Escaping makes a byte at most four: short values need no counting.
        if bytes.count > limit / 4 {
            var written = 0
            for byte in bytes { written += byte == 0x22 || byte == 0x5C ? 4 : 1 }
            if written > limit {
                var kept = 0, end = 0
                while end < bytes.count {
                    let width = bytes[end] == 0x22 || bytes[end] == 0x5C ? 4 : 1
                    if kept + width > limit - 3 { break }
                    kept += width
                    end += 1
                }
                appendEscaped(UnsafeRawBufferPointer(rebasing: bytes[0..<end]), to: &buffer)
                buffer.append("...")
                return
            }
        }
        var run = 0, i = 0
        let n = bytes.count
        while i < n {
            let byte = bytes[i]
            if byte == 0x22 || byte == 0x5C {
                buffer.append(UnsafeRawBufferPointer(rebasing: bytes[run..<i]))
                buffer.append(byte == 0x22 ? "\\x22" : "\\x5C")
                run = i + 1
            }
            i += 1
        }
        buffer.append(UnsafeRawBufferPointer(rebasing: bytes[run..<n]))
    }

    /// ` route=PATH mode=MODE` for a route, made when its generation is
    /// built. A path with a byte a logfmt reader would split on (space,
    /// `=`, `"`, `\`, a control byte) is quoted and escaped like a target.
    static func routeFields(path: String, mode: String) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.append(" route=")
        let bare = path.utf8.allSatisfy { $0 > 0x20 && $0 != 0x7F && $0 != 0x22 && $0 != 0x3D && $0 != 0x5C }
        if !bare { buffer.append(UInt8(ascii: "\"")) }
        Array(path.utf8).withUnsafeBytes { appendEscaped($0, limit: maxRouteBytes, to: &buffer) }
        if !bare { buffer.append(UInt8(ascii: "\"")) }
        buffer.append(" mode=")
        buffer.append(mode)
        let fields = Array(buffer.readable)
        buffer.release()
        return fields
    }
}
