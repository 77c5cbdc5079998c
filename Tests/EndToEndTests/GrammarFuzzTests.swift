import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Requests assembled from the grammar's parts — methods, targets, versions,
/// header combinations, body framings — each part valid or deliberately
/// wrong, plus raw openings that are not HTTP/1.x at all (the HTTP/2 preface,
/// a TLS ClientHello). The seed is fixed, so a failure reproduces.
///
/// Every case must end in HTTP/1.1 answers or a close within 5 s, and:
/// - where every part was valid, the first answer is the one the route table
///   gives (200, 404, 405, or 501 for an unknown method);
/// - where a part makes the head invalid (obs-fold, NUL, bare CR or LF,
///   duplicate Host, Content-Length with Transfer-Encoding, …), no 2xx;
/// - a quarter of the cases are sent again split in two writes at a random
///   byte, and must get the same answers (same bytes, same answer; one may
///   stop short of the other only at a refusal, after which the server may close).
@Suite("Grammar fuzz")
struct GrammarFuzzTests {
    typealias Random = HostileInputTests.Random

    struct Case {
        var bytes: [UInt8]
        /// Method of each request, in order, so answers to HEAD are read without a body.
        var methods: [String]
        /// The first final answer's status, when every part was valid.
        var expected: Int?
        /// A part makes the head invalid: the first final answer must not be 2xx.
        var mustRefuse = false
        var label: String
    }

    /// A request target and the route path it names (nil: no oracle).
    struct Target { var text: [UInt8]; var path: String?; var refuse: Bool }

    static let routeMethods: [String: Set<String>] = [
        "/hello": ["GET", "HEAD"], "/echo": ["GET", "HEAD", "POST", "PUT"],
        "/livez": ["GET", "HEAD"], "/readyz": ["GET", "HEAD"],
    ]
    /// Methods the server knows; others that are valid tokens get 501.
    static let knownMethods = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"]
    static let unknownTokenMethods = ["PRI", "get", "post", "FOO", "M-SEARCH", "PROPFIND", String(repeating: "X", count: 31)]
    static let invalidMethods: [[UInt8]] = [[], Array("G@T".utf8), Array("GE(T".utf8), [0x47, 0x00, 0x54], Array("GET\u{7f}".utf8),
                                            [0xC3, 0xA9]]

    static let targets: [Target] = [
        Target(text: Array("/hello".utf8), path: "/hello", refuse: false),
        Target(text: Array("/echo".utf8), path: "/echo", refuse: false),
        Target(text: Array("/echo?x=1&y=%20z".utf8), path: "/echo", refuse: false),
        Target(text: Array("/livez".utf8), path: "/livez", refuse: false),
        Target(text: Array("/nope".utf8), path: "/nope", refuse: false),
        Target(text: Array("/h%65llo".utf8), path: "/hello", refuse: false),
        Target(text: Array("http://localhost/hello".utf8), path: "/hello", refuse: false),
        Target(text: Array("HTTP://LOCALHOST:80/echo?q=1".utf8), path: "/echo", refuse: false),
        Target(text: Array("https://h.example/echo".utf8), path: "/echo", refuse: false),
        Target(text: Array("http://localhost".utf8), path: "/", refuse: false),
        Target(text: Array("localhost:443".utf8), path: nil, refuse: false),      // authority-form
        Target(text: Array("*".utf8), path: nil, refuse: false),                  // asterisk-form
        Target(text: Array("/%2e%2e/hello".utf8), path: nil, refuse: true),
        Target(text: Array("/hello#frag".utf8), path: nil, refuse: true),
        Target(text: Array("/a\tb".utf8), path: nil, refuse: true),
        Target(text: [0x2F, 0xC3, 0xA9], path: nil, refuse: true),
        Target(text: [0x2F, 0x68, 0x00, 0x69], path: nil, refuse: true),
        Target(text: [0x2F, 0x7F], path: nil, refuse: true),
        Target(text: Array("http://".utf8), path: nil, refuse: true),
        Target(text: Array("http://@/x".utf8), path: nil, refuse: true),
        Target(text: Array(("/" + String(repeating: "a", count: 9000)).utf8), path: nil, refuse: true),   // 414
        Target(text: [], path: nil, refuse: true),
        Target(text: Array("//echo".utf8), path: nil, refuse: false),
        Target(text: Array("/hello/".utf8), path: nil, refuse: false),
        Target(text: Array("/%zz".utf8), path: nil, refuse: false),
    ]

    /// Versions: (text, outcome) — valid 1.x, not 1.x (505), or malformed (400).
    enum VersionKind { case one(minor: Int), notOne, malformed, noOracle }
    static let versions: [(String, VersionKind)] = [
        ("HTTP/1.1", .one(minor: 1)), ("HTTP/1.1", .one(minor: 1)), ("HTTP/1.1", .one(minor: 1)), ("HTTP/1.0", .one(minor: 0)),
        ("HTTP/2.0", .notOne), ("HTTP/3.0", .notOne), ("HTTP/0.9", .notOne), ("HTTP/9.9", .notOne),
        ("HTTP/1.10", .malformed), ("http/1.1", .malformed), ("HTTP/1", .malformed), ("HTTP/1.1 ", .malformed),
        ("", .malformed), ("XYZ", .malformed), ("HTTP/1.x", .malformed), ("HTTP/11", .malformed), ("HTTP/1.2", .noOracle),
    ]

    /// Header lines that make any head invalid, wherever they stand.
    static let hazards: [(String, [UInt8])] = [
        ("obs-fold", Array("X-Fold: a\r\n  b\r\n".utf8)),
        ("NUL in value", Array("X-Nul: a".utf8) + [0] + Array("b\r\n".utf8)),
        ("bare CR in value", Array("X-CR: a\rb\r\n".utf8)),
        ("bare LF line end", Array("X-LF: a\n".utf8)),
        ("space before colon", Array("X-Sp : a\r\n".utf8)),
        ("no colon", Array("NoColonHere\r\n".utf8)),
        ("invalid name", Array("X(A): b\r\n".utf8)),
        ("empty name", Array(": b\r\n".utf8)),
        ("DEL in value", Array("X-Del: a".utf8) + [0x7F] + Array("\r\n".utf8)),
        ("second Host", Array("Host: other.example\r\n".utf8)),
        ("Expect: unknown", Array("Expect: 200-ok\r\n".utf8)),
        ("huge header", Array(("X-Big: " + String(repeating: "b", count: 20000) + "\r\n").utf8)),
    ]

    /// Body framings: header lines, body bytes, and whether they are valid.
    static func framing(_ random: inout Random) -> (name: String, headers: [String], body: [UInt8], valid: Bool) {
        let text = String(repeating: "0123456789abcdef", count: 8)
        let length = random.next(100)
        let body = Array(text.utf8.prefix(length))
        switch random.next(20) {
        case 0..<7: return ("none", [], [], true)
        case 7..<11: return ("CL \(length)", ["Content-Length: \(length)"], body, true)
        case 11: return ("CL 0", ["Content-Length: 0"], [], true)
        case 12..<15:
            let half = length / 2
            let chunked = String(format: "%x;ext=1;q=\"v\"\r\n", half) + String(text.prefix(half)) + "\r\n"
                + String(format: "%X\r\n", length - half) + String(text.prefix(length - half)) + "\r\n"
                + "0\r\nX-Trailer: t\r\n\r\n"
            return ("chunked", ["Transfer-Encoding: chunked"], Array(chunked.utf8), true)
        case 15: return ("CL twice, equal", ["Content-Length: \(length)", "Content-Length: \(length)"], body, true)
        default:
            let bad: [(String, [String], String)] = [
                ("CL + TE", ["Content-Length: 5", "Transfer-Encoding: chunked"], "0\r\n\r\n"),
                ("CL differing", ["Content-Length: 5", "Content-Length: 6"], "hello!"),
                ("CL +5", ["Content-Length: +5"], "hello"),
                ("CL 5, 5", ["Content-Length: 5, 5"], "hello"),
                ("CL -1", ["Content-Length: -1"], ""),
                ("CL hex", ["Content-Length: 0x10"], ""),
                ("CL huge", ["Content-Length: 99999999999999999999"], ""),
                ("CL over max_body_bytes", ["Content-Length: 5000"], ""),
                ("TE gzip, chunked", ["Transfer-Encoding: gzip, chunked"], "0\r\n\r\n"),
                ("TE chunked, gzip", ["Transfer-Encoding: chunked, gzip"], "0\r\n\r\n"),
                ("TE gzip", ["Transfer-Encoding: gzip"], ""),
                ("TE identity", ["Transfer-Encoding: identity"], ""),
                ("TE chunked twice", ["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"], "0\r\n\r\n"),
                ("chunk size not hex", ["Transfer-Encoding: chunked"], "zz\r\nhello\r\n0\r\n\r\n"),
                ("chunk without CRLF", ["Transfer-Encoding: chunked"], "5\r\nhelloXX0\r\n\r\n"),
                ("chunk over max_body_bytes", ["Transfer-Encoding: chunked"], "2000\r\n" + String(repeating: "c", count: 0x2000) + "\r\n0\r\n\r\n"),
            ]
            let (name, headers, body) = bad[random.next(bad.count)]
            return (name, headers, Array(body.utf8), false)
        }
    }

    static let specials: [(String, [UInt8])] = [
        ("HTTP/2 preface", Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)),
        ("TLS ClientHello", [0x16, 0x03, 0x01, 0x00, 0x2F, 0x01, 0x00, 0x00, 0x2B, 0x03, 0x03]
            + Array(repeating: 0x5A, count: 32) + [0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00, 0x00, 0x00]),
        ("SSLv2 hello", [0x80, 0x2E, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10] + Array(repeating: 0x01, count: 37)),
        ("HTTP/0.9", Array("GET /hello\r\n".utf8)),
        ("empty lines only", Array("\r\n\r\n\r\n".utf8)),
        ("nothing", []),
        ("space", Array(" \r\n\r\n".utf8)),
        ("lone LF", Array("\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n".utf8)),
    ]

    static func makeCase(_ random: inout Random) -> Case {
        if random.next(100) < 6 {
            if random.next(3) == 0 {
                var bytes: [UInt8] = []
                for _ in 0..<(1 + random.next(200)) { bytes.append(UInt8(truncatingIfNeeded: random.next(256))) }
                return Case(bytes: bytes, methods: [], expected: nil, label: "random bytes")
            }
            let (name, bytes) = specials[random.next(specials.count)]
            return Case(bytes: bytes, methods: ["GET"], expected: nil, label: name)
        }
        var labels: [String] = []
        var clean = true, refuse = false
        var bytes: [UInt8] = []
        // Empty lines before the request line are allowed (RFC 9112 §2.2).
        for _ in 0..<(random.next(5) == 0 ? 1 + random.next(2) : 0) { bytes += Array("\r\n".utf8) }

        // Method.
        var method: String
        var unknownMethod = false
        switch random.next(20) {
        case 0..<15:
            method = knownMethods[random.next(knownMethods.count)]
        case 15..<19:
            method = unknownTokenMethods[random.next(unknownTokenMethods.count)]
            unknownMethod = true
        default:
            let m = invalidMethods[random.next(invalidMethods.count)]
            method = String(decoding: m, as: UTF8.self)
            bytes += m
            refuse = true; clean = false
            labels.append("invalid method")
        }
        if !refuse { bytes += Array(method.utf8) }
        if ["CONNECT", "TRACE", "OPTIONS"].contains(method) { clean = false }   // no oracle for these
        labels.append(method.count > 12 ? "long method" : method)

        // Separator, then target.
        var sep1: [UInt8] = [[0x20, 0x20], [0x09]][random.next(2)]
        if random.next(16) != 0 { sep1 = [0x20] }
        if sep1 != [0x20] { refuse = true; clean = false; labels.append("odd separator") }
        bytes += sep1
        // Three in four targets name a route (the first ten); the rest are odd.
        let target = random.next(4) > 0 ? targets[random.next(10)] : targets[10 + random.next(targets.count - 10)]
        bytes += target.text
        labels.append(target.text.count > 40 ? "long target" : visible(target.text))
        if target.refuse { refuse = true }
        if target.path == nil { clean = false }

        // Version.
        // Three in four versions are HTTP/1.1 or HTTP/1.0 (the first four); the rest are odd.
        let (versionText, versionKind) = random.next(4) > 0 ? versions[random.next(4)] : versions[4 + random.next(versions.count - 4)]
        bytes += [0x20] + Array(versionText.utf8)
        labels.append(versionText.isEmpty ? "no version" : versionText)
        var minor = 1
        switch versionKind {
        case .one(let m): minor = m
        case .notOne: clean = false
        case .malformed: refuse = true; clean = false
        case .noOracle: clean = false
        }
        // A request line that parses up to a version that is not 1.x gets 505.
        let lineEnd: [UInt8] = random.next(30) == 0 ? [0x0A] : [0x0D, 0x0A]
        if lineEnd == [0x0A] { refuse = true; clean = false; labels.append("LF line ends") }
        let requestLineParses = !refuse && !target.refuse && target.path != nil
        bytes += lineEnd

        // Header lines.
        var lines: [[UInt8]] = []
        var hasHost = true
        switch random.next(12) {
        case 0:
            hasHost = false
            if minor == 1 { refuse = true }
            clean = clean && minor == 0
            labels.append("no Host")
        case 1:
            lines.append(Array("Host: a.example\r\nHost: b.example".utf8))
            refuse = true; clean = false
            labels.append("two Hosts")
        default:
            lines.append(Array((random.next(4) == 0 ? "host: localhost:8080" : "Host: localhost").utf8))
        }
        let frame = framing(&random)
        labels.append(frame.name)
        if !frame.valid { refuse = true; clean = false }
        if frame.name == "chunked" && minor == 0 { refuse = true; clean = false; labels.append("TE on 1.0") }
        for header in frame.headers { lines.append(Array(header.utf8)) }
        switch random.next(6) {
        case 0: lines.append(Array("Connection: close".utf8))
        case 1: lines.append(Array("Connection: keep-alive".utf8))
        case 2: lines.append(Array("Connection: close, upgrade".utf8)); lines.append(Array("Upgrade: h2c".utf8))
        default: break
        }
        if random.next(6) == 0 { lines.append(Array(("Expect: " + (random.next(2) == 0 ? "100-continue" : "100-Continue")).utf8)) }
        if random.next(4) == 0 { lines.append(Array("Accept-Encoding: gzip;q=0.5, *;q=0".utf8)) }
        if random.next(5) == 0 { lines.append(Array("User-Agent: fuzz/1.0 (grammar)".utf8)) }
        // Shuffle, then maybe add a hazard somewhere.
        for i in stride(from: lines.count - 1, to: 0, by: -1) { lines.swapAt(i, random.next(i + 1)) }
        var head: [UInt8] = []
        for line in lines { head += line + lineEnd }
        if random.next(5) == 0 {
            var (name, hazard) = hazards[random.next(hazards.count)]
            if name == "second Host", !hasHost { (name, hazard) = hazards[0] }   // it would be the only one
            let at = random.next(lines.count + 1)
            head = []
            for (i, line) in lines.enumerated() {
                if i == at { head += hazard }
                head += line + lineEnd
            }
            if at == lines.count { head += hazard }
            refuse = true; clean = false
            labels.append(name)
        }
        bytes += head + lineEnd + frame.body

        var methods = [method]
        // Sometimes a second request in the same write.
        if random.next(8) == 0 {
            bytes += Array("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)
            methods.append("GET")
            labels.append("+pipelined")
        }
        // Sometimes cut short anywhere: then only "answer or close" applies.
        var truncated = false
        if random.next(20) == 0, bytes.count > 1 {
            bytes.removeSubrange(random.next(bytes.count)...)
            truncated = true
            labels.append("truncated")
        }

        var expected: Int? = nil
        if truncated {
            refuse = false
        } else if clean && !refuse {
            if unknownMethod {
                expected = 501
            } else if let path = target.path {
                if let allowed = routeMethods[path] { expected = allowed.contains(method) ? 200 : 405 }
                else { expected = 404 }
            }
        } else if requestLineParses, case .notOne = versionKind {
            expected = 505
            refuse = true
        }
        return Case(bytes: bytes, methods: methods, expected: expected, mustRefuse: refuse,
                    label: labels.joined(separator: " "))
    }

    /// Statuses the contract lets the server produce, plus 200 and 100.
    static let contractStatuses: Set<Int> = [100, 200, 400, 403, 404, 405, 408, 413, 414, 417, 431, 501, 502, 503, 504, 505]

    /// Sends `bytes` (in two writes when `split` is given), half-closes, and
    /// reads until the server closes (at most 5 s).
    static func exchange(_ daemon: Daemon, _ bytes: [UInt8], split: Int? = nil) throws -> (reply: [UInt8], closed: Bool) {
        let client = try daemon.connect()
        if let split {
            setNoDelay(client.fd)
            _ = client.trySend(Array(bytes[..<split]))
            usleep(3000)
            _ = client.trySend(Array(bytes[split...]))
        } else {
            _ = client.trySend(bytes)
        }
        client.shutdownWrite()
        let (reply, closed) = client.readUntilClosed(timeout: 5)
        return (reply, closed)
    }

    /// The answers in `reply`, in order; nil and a reason when they do not parse.
    static func answers(_ reply: [UInt8], methods: [String]) -> (statuses: [Int], problem: String?) {
        var rest = reply
        var statuses: [Int] = []
        var finals = 0
        while !rest.isEmpty {
            // An answer to HEAD has no body, but a refusal of a malformed
            // HEAD request may: take the reading after which the next
            // answer, if any, starts where it should.
            let isHead = finals < methods.count && methods[finals] == "HEAD"
            var parsed = ResponseParser.parse(rest, head: isHead, atEOF: true)
            if isHead, case .complete(_, let consumed) = parsed, consumed < rest.count,
               !rest[consumed...].starts(with: Array("HTTP/".utf8)) {
                parsed = ResponseParser.parse(rest, head: false, atEOF: true)
            }
            switch parsed {
            case .complete(let response, let consumed):
                if response.version != "HTTP/1.1" { return (statuses, "answer in \(response.version)") }
                statuses.append(response.status)
                if response.status >= 200 { finals += 1 }
                rest.removeFirst(consumed)
            case .incomplete:
                return (statuses, "cut-off answer: \(visible(rest.prefix(80)))")
            case .invalid(let why):
                return (statuses, "unparseable answer (\(why))")
            }
        }
        return (statuses, nil)
    }

    @Test("6,000 grammar-built requests: answered per the route table or refused, or closed, within 5 s; split or not, the same answers",
          .timeLimit(.minutes(3)))
    func grammarBuiltRequests() throws {
        let daemon = try Daemon(DaemonConfig(limits: ["header_timeout_ms": 2000, "max_body_bytes": 4096]))
        defer { daemon.stop() }
        var random = Random(state: 0x6A4D_11A2_0F0C_2026)
        var problems: [String] = []
        var statusCounts: [String: Int] = [:]
        var oracleChecked = 0, refusalsChecked = 0, splitsChecked = 0
        let started = now()
        for i in 0..<6000 {
            let c = Self.makeCase(&random)
            let (reply, closed) = try Self.exchange(daemon, c.bytes)
            let (statuses, problem) = Self.answers(reply, methods: c.methods)
            let finals = statuses.filter { $0 >= 200 }
            statusCounts[finals.first.map(String.init) ?? "closed", default: 0] += 1
            func report(_ what: String) {
                problems.append("case \(i) [\(c.label)]: \(what); sent \(visible(c.bytes, limit: 160)); got \(visible(reply, limit: 120))")
            }
            if !closed { report("not closed within 5 s") }
            if let problem { report(problem) }
            if let bad = statuses.first(where: { !Self.contractStatuses.contains($0) }) { report("status \(bad) is not one the server produces") }
            if let expected = c.expected {
                oracleChecked += 1
                if finals.first != expected { report("expected \(expected), got \(finals.first.map(String.init) ?? "no answer")") }
            }
            if c.mustRefuse, let first = finals.first {
                refusalsChecked += 1
                if (200..<300).contains(first) { report("an invalid head was answered \(first)") }
            }
            // Same bytes, same answers, however split.
            if random.next(4) == 0, c.bytes.count > 1 {
                splitsChecked += 1
                let at = 1 + random.next(c.bytes.count - 1)
                let (splitReply, splitClosed) = try Self.exchange(daemon, c.bytes, split: at)
                let splitFinals = Self.answers(splitReply, methods: c.methods).statuses.filter { $0 >= 200 }
                // After a refusal the server may close rather than read on (an
                // early 404 while the body is still coming, say): then one
                // list may stop short of the other, at that refusal.
                let (short, long) = splitFinals.count < finals.count ? (splitFinals, finals) : (finals, splitFinals)
                let stoppedAtRefusal = !short.isEmpty && long.starts(with: short) && short.last! >= 400
                if (splitFinals != finals && !stoppedAtRefusal) || !splitClosed {
                    report("split after \(at) bytes: \(splitFinals) (closed: \(splitClosed)), in one write: \(finals)")
                }
            }
            if !daemon.process.isRunning { report("the daemon died"); break }
        }
        let elapsed = now() - started
        #expect(daemon.process.isRunning, "the daemon died; log:\n\(daemon.log)")
        #expect(problems.isEmpty, "\(problems.count) of 6000 cases went wrong (\(oracleChecked) checked against the route table, \(refusalsChecked) refusals, \(splitsChecked) split), statuses \(statusCounts.sorted { $0.key < $1.key }):\n\(problems.prefix(12).joined(separator: "\n"))")
        // The generator reaches every part of the grammar.
        for status in ["200", "400", "501", "505"] {
            #expect((statusCounts[status] ?? 0) >= 20, "only \(statusCounts[status] ?? 0) first answers were \(status): \(statusCounts.sorted { $0.key < $1.key })")
        }
        for status in ["404", "405", "413", "414", "417", "431"] {
            #expect((statusCounts[status] ?? 0) >= 1, "no first answer was \(status): \(statusCounts.sorted { $0.key < $1.key })")
        }
        #expect(oracleChecked >= 800, "only \(oracleChecked) cases had a route-table oracle")
        #expect(elapsed < 150, "6,000 cases took \(Int(elapsed)) s")
        let health = try daemon.request("GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(health.status == 200)
    }
}
