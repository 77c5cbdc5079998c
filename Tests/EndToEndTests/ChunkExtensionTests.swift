import Foundation
import Testing

/// Chunk extensions (and trailer fields) over the wire, by RFC 9112 §7.1.1:
///
///     chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
///
/// with a token name and a token or balanced quoted-string value. A valid one
/// is ignored and the body echoed; anything else is a 400 that names the
/// fault, then a closed connection: the daemon never guesses where a broken
/// chunk line ends, so nothing after it is read as a request.
@Suite("Chunk extensions")
struct ChunkExtensionTests {
    static let head = "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
    /// Sent right behind every refused body, in the same write: it must never be answered.
    static let smuggled = "GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n"
    /// The decoder's reason for an extension that breaks the grammar.
    static let badExtension = "invalid chunk extension"

    struct Accepted: Sendable, CustomTestStringConvertible {
        var name: String
        /// The chunked body, framing and all.
        var wire: String
        var body: String
        var testDescription: String { name }
    }

    static let accepted: [Accepted] = [
        Accepted(name: "a name alone", wire: "5;a\r\nhello\r\n0\r\n\r\n", body: "hello"),
        Accepted(name: "a token value, whitespace around ';' and '='",
                 wire: "5 ; a = b\r\nhello\r\n6\t;\tc\t=\td\r\n world\r\n0\r\n\r\n", body: "hello world"),
        Accepted(name: "quoted values with escapes, ';' and '=' inside",
                 wire: "5;a=\"q\\\"x; y=z\"\r\nhello\r\n6;b=\"\";c=\"\\\\\"\r\n world\r\n0;last=\"1\"\r\n\r\n",
                 body: "hello world"),
        Accepted(name: "several extensions on every chunk, and a trailer",
                 wire: "3;a;b=1;c=\"two words\"\r\nabc\r\n2 ;d=e\r\nde\r\n0;f\r\nX-Trailer: t\r\n\r\n", body: "abcde"),
        Accepted(name: "obs-text in a quoted value", wire: "5;a=\"café\"\r\nhello\r\n0\r\n\r\n", body: "hello"),
        Accepted(name: "a quoted value of 4,000 bytes",
                 wire: "5;a=\"" + String(repeating: "x", count: 4000) + "\"\r\nhello\r\n0\r\n\r\n", body: "hello"),
    ]

    /// Sends `head + wire`, in two writes when `splitAt` (an offset into
    /// `wire`) is given, and checks the echo; then the connection serves
    /// another request, so the decoder stopped exactly at the body's end.
    func expectEchoed(_ daemon: Daemon, _ c: Accepted, splitAt: Int? = nil,
                      sourceLocation: SourceLocation = #_sourceLocation) throws {
        let client = try daemon.connect()
        let bytes = Array((Self.head + c.wire).utf8)
        let where_ = splitAt.map { " (split at \($0))" } ?? ""
        if let splitAt {
            let cut = Self.head.utf8.count + splitAt
            try client.send(Array(bytes[..<cut]))
            usleep(3000)
            try client.send(Array(bytes[cut...]))
        } else {
            try client.send(bytes)
        }
        let response = try client.readResponse()
        #expect(response.status == 200, "\(visible(response.raw))\(where_)", sourceLocation: sourceLocation)
        guard response.status == 200 else { return }
        let echo = try Echo(response)
        #expect(echo.body == c.body, "\(where_)", sourceLocation: sourceLocation)
        try client.send(Self.smuggled)
        let next = try client.readResponse()
        #expect(next.status == 200 && next.bodyString == "hello\n", "\(visible(next.raw))\(where_)", sourceLocation: sourceLocation)
    }

    @Test("a valid chunk extension: 200 with the body, connection kept", arguments: accepted)
    func acceptedWhole(_ c: Accepted) throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        try expectEchoed(daemon, c)
    }

    /// Every cut inside the first chunk line and its CRLF, plus a few further on.
    static func splits(_ wire: String) -> [Int] {
        let bytes = Array(wire.utf8)
        let lineEnd = bytes.firstIndex(of: 0x0A).map { $0 + 1 } ?? bytes.count
        var cuts = Array(1...min(lineEnd, 80))
        if lineEnd > 80 { cuts += [lineEnd / 2, lineEnd - 2, lineEnd - 1, lineEnd] }
        cuts += [bytes.count / 2, bytes.count - 3, bytes.count - 1]
        return Array(Set(cuts.filter { $0 > 0 && $0 < bytes.count })).sorted()
    }

    @Test("a valid chunk extension in two writes, cut inside it: the same answer", arguments: accepted)
    func acceptedSplit(_ c: Accepted) throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        for cut in Self.splits(c.wire) {
            try expectEchoed(daemon, c, splitAt: cut)
        }
    }

    struct Refused: Sendable, CustomTestStringConvertible {
        var name: String
        var wire: String
        /// The 400's body, less its newline.
        var reason: String
        var testDescription: String { name }
    }

    static func bad(_ name: String, _ line: String, _ reason: String = badExtension) -> Refused {
        Refused(name: name, wire: line + "hello\r\n0\r\n\r\n", reason: reason)
    }

    static let refused: [Refused] = [
        bad("';' without a name", "5;\r\n"),
        bad("a value without a name", "5;=b\r\n"),
        bad("'=' without a value", "5;a=\r\n"),
        bad("whitespace inside a name", "5;a b\r\n"),
        bad("whitespace inside a token value", "5;a=b c\r\n"),
        bad("whitespace after the size, then CRLF", "5 \r\n"),
        bad("whitespace after a value, then CRLF", "5;a=b \r\n"),
        bad("a separator in a name", "5;a@b\r\n"),
        bad("a quoted name", "5;\"x\"\r\n"),
        bad("text glued to a closing quote", "5;a=\"x\"y\r\n"),
        bad("a quote never closed", "5;a=\"x\r\n"),
        bad("a lone backslash escaping the closing quote", "5;a=\"x\\\"\r\n"),
        bad("a backslash at the end of the line", "5;a=\"x\\\r\n"),
        bad("a control byte in a value", "5;a=b\u{1}\r\n"),
        bad("NUL in a quoted value", "5;a=\"\u{0}\"\r\n"),
        bad("a bare LF ending an extension", "5;a=b\n", "bare LF"),
        bad("a bare CR inside an extension", "5;a\rb=c\r\n", "bare CR"),
        bad("a CRLF inside a quoted value (folded)", "5;a=\"x\r\n y\"\r\n"),
        Refused(name: "a bad extension on a later chunk", wire: "5;a=b\r\nhello\r\n1;c d\r\nx\r\n0\r\n\r\n",
                reason: badExtension),
        Refused(name: "a bad extension on the last chunk", wire: "5\r\nhello\r\n0;=\r\n\r\n", reason: badExtension),
        // Trailer fields are field lines (RFC 9112 §7.1.2), held to the header parser's rules.
        Refused(name: "a trailer without a colon", wire: "5\r\nhello\r\n0\r\nnocolon\r\n\r\n", reason: "invalid header name"),
        Refused(name: "a folded trailer", wire: "5\r\nhello\r\n0\r\nX: 1\r\n more\r\n\r\n", reason: "obsolete line folding"),
        Refused(name: "NUL in a trailer", wire: "5\r\nhello\r\n0\r\nX: a\u{0}b\r\n\r\n", reason: "invalid header value"),
        Refused(name: "space before a trailer's colon", wire: "5\r\nhello\r\n0\r\nX : 1\r\n\r\n", reason: "whitespace before colon"),
    ]

    /// Sends `head + wire + smuggled` (in two writes when `splitAt`, an offset
    /// into `wire`, is given) and checks: 400 naming the fault, Connection:
    /// close, then the close and not one byte more (no answer to `smuggled`).
    func expectRefused(_ daemon: Daemon, _ c: Refused, splitAt: Int? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let client = try daemon.connect()
        let bytes = Array((Self.head + c.wire + Self.smuggled).utf8)
        let where_ = splitAt.map { " (split at \($0))" } ?? ""
        if let splitAt {
            let cut = Self.head.utf8.count + splitAt
            client.trySend(Array(bytes[..<cut]))
            usleep(3000)
            client.trySend(Array(bytes[cut...]))
        } else {
            client.trySend(bytes)
        }
        let response = try client.readResponse()
        #expect(response.status == 400, "\(visible(response.raw))\(where_)", sourceLocation: sourceLocation)
        #expect(response.bodyString == c.reason + "\n", "\(visible(response.raw))\(where_)", sourceLocation: sourceLocation)
        #expect(response.saysClose, "no Connection: close: \(visible(response.raw))\(where_)", sourceLocation: sourceLocation)
        let rest = client.readUntilClosed(timeout: 5)
        #expect(rest.closed, "connection still open 5 s after the 400\(where_)", sourceLocation: sourceLocation)
        #expect(rest.bytes.isEmpty, "bytes after the 400: \(visible(rest.bytes))\(where_)", sourceLocation: sourceLocation)
    }

    @Test("a malformed chunk extension: 400 that says why, then closed", arguments: refused)
    func refusedWhole(_ c: Refused) throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        try expectRefused(daemon, c)
    }

    @Test("a malformed chunk extension in two writes, cut anywhere in its line: the same 400, then closed",
          arguments: refused)
    func refusedSplit(_ c: Refused) throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        for cut in Self.splits(c.wire) {
            try expectRefused(daemon, c, splitAt: cut)
        }
    }

    @Test("a malformed extension on a keep-alive connection after a good request: 400, then closed")
    func refusedAfterAGoodRequest() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let client = try daemon.connect()
        try client.send(Self.head + "5;ok=\"yes\"\r\nhello\r\n0\r\n\r\n")
        let first = try client.readResponse()
        #expect(first.status == 200, "\(visible(first.raw))")
        #expect(try Echo(first).body == "hello")

        client.trySend(Self.head + "5;a=\"unbalanced\r\nhello\r\n0\r\n\r\n" + Self.smuggled)
        let second = try client.readResponse()
        #expect(second.status == 400, "\(visible(second.raw))")
        #expect(second.bodyString == Self.badExtension + "\n")
        #expect(second.saysClose)
        let rest = client.readUntilClosed(timeout: 5)
        #expect(rest.closed)
        #expect(rest.bytes.isEmpty, "bytes after the 400: \(visible(rest.bytes))")
    }
}
