import Testing
import SwitchyardHTTP

@Suite("Chunked decoder")
struct ChunkedDecoderTests {
    struct Valid: CustomTestStringConvertible, Sendable {
        var name: String
        var raw: String
        var body: String
        var testDescription: String { name }
    }

    static let valid: [Valid] = [
        Valid(name: "one chunk", raw: "5\r\nhello\r\n0\r\n\r\n", body: "hello"),
        Valid(name: "several chunks, hex sizes", raw: "3\r\nabc\r\nA\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n", body: "abc01234567890123456789"),
        Valid(name: "leading zeros", raw: "0005\r\nhello\r\n000\r\n\r\n", body: "hello"),
        Valid(name: "more leading zeros than a size has digits", raw: "00000000000000000005\r\nhello\r\n00000000000000000000\r\n\r\n", body: "hello"),
        Valid(name: "extensions ignored", raw: "5;name=value;x\r\nhello\r\n0;last\r\n\r\n", body: "hello"),
        Valid(name: "whitespace before extension", raw: "5 ;a=b\r\nhello\r\n0\r\n\r\n", body: "hello"),
        Valid(name: "trailers dropped", raw: "5\r\nhello\r\n0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n", body: "hello"),
        Valid(name: "trailers with OWS, empty values, obs-text and tokens' odd characters",
              raw: "5\r\nhello\r\n0\r\nX-A:1\r\nX-B:  \t two words \t\r\nX-C:\r\n!#$%&'*+-.^_`|~9: \u{80}\u{FF}\r\n\r\n", body: "hello"),
        Valid(name: "empty body", raw: "0\r\n\r\n", body: ""),
        Valid(name: "CRLF inside data", raw: "4\r\na\r\nb\r\n0\r\n\r\n", body: "a\r\nb"),
    ]

    @Test(arguments: valid + validExtensions)
    func decodesWhole(_ c: Valid) {
        let raw = Array(c.raw.utf8) + Array("GET /next".utf8)
        let (progress, body, consumed) = decodeChunked(raw)
        #expect(progress == .done)
        #expect(String(decoding: body, as: UTF8.self) == c.body)
        #expect(consumed == c.raw.utf8.count, "the pipelined request after it is untouched")
    }

    @Test(arguments: valid + validExtensions)
    func decodesAtEverySplit(_ c: Valid) {
        let raw = Array(c.raw.utf8)
        for k in 0..<raw.count {
            var buffer = Array(raw[0..<k])
            var decoder = ChunkedDecoder()
            var rawOffset = 0, bodyEnd = 0
            let first = buffer.withUnsafeMutableBytes { decoder.decode($0, rawOffset: &rawOffset, bodyEnd: &bodyEnd, maxBodyBytes: 1 << 20) }
            #expect(first == .needMore, "split at \(k)")
            buffer.append(contentsOf: raw[k...])
            let second = buffer.withUnsafeMutableBytes { decoder.decode($0, rawOffset: &rawOffset, bodyEnd: &bodyEnd, maxBodyBytes: 1 << 20) }
            #expect(second == .done, "split at \(k)")
            #expect(String(decoding: buffer[0..<bodyEnd], as: UTF8.self) == c.body, "split at \(k)")
            #expect(rawOffset == raw.count)
        }
    }

    /// One byte per call, the buffer growing as a connection's does.
    @Test(arguments: valid + validExtensions)
    func decodesByteByByte(_ c: Valid) {
        let raw = Array(c.raw.utf8)
        let (progress, body, fed) = decodeByteByByte(raw)
        #expect(progress == .done)
        #expect(fed == raw.count, "done only at the last byte")
        #expect(String(decoding: body, as: UTF8.self) == c.body)
    }

    struct Invalid: CustomTestStringConvertible, Sendable {
        var name: String
        var raw: String
        var error: RequestError
        var testDescription: String { name }
    }

    static let invalid: [Invalid] = [
        Invalid(name: "non-hex size", raw: "g\r\n", error: .badRequest(.invalidChunkSize)),
        Invalid(name: "empty size", raw: "\r\n", error: .badRequest(.invalidChunkSize)),
        Invalid(name: "0x prefix", raw: "0x10\r\n", error: .badRequest(.invalidChunkSize)),
        Invalid(name: "size overflow", raw: "10000000000000000\r\n", error: .badRequest(.invalidChunkSize)),
        Invalid(name: "negative size", raw: "-1\r\n", error: .badRequest(.invalidChunkSize)),
        Invalid(name: "space inside size", raw: "1 0\r\n", error: .badRequest(.invalidChunkSize)),
        Invalid(name: "data longer than size", raw: "3\r\nabcd\r\n0\r\n\r\n", error: .badRequest(.invalidChunkFraming)),
        Invalid(name: "bare LF after size", raw: "3\nabc\r\n", error: .badRequest(.bareLF)),
        Invalid(name: "bare CR after size", raw: "3\rabc\r\n", error: .badRequest(.bareCR)),
        Invalid(name: "bare LF after data", raw: "3\r\nabc\n0\r\n\r\n", error: .badRequest(.bareLF)),
        Invalid(name: "bare LF in trailer", raw: "0\r\nX: 1\n\r\n", error: .badRequest(.bareLF)),
        // Trailer fields by the field-line grammar, as header fields are (RFC 9112 §7.1.2, §5).
        Invalid(name: "trailer without a colon", raw: "0\r\nno colon here\r\n\r\n", error: .badRequest(.whitespaceBeforeColon)),
        Invalid(name: "trailer name only", raw: "0\r\nX-Sum\r\n\r\n", error: .badRequest(.invalidHeaderName)),
        Invalid(name: "trailer with an empty name", raw: "0\r\n: 1\r\n\r\n", error: .badRequest(.invalidHeaderName)),
        Invalid(name: "trailer folded onto the line before", raw: "0\r\nX: 1\r\n folded\r\n\r\n", error: .badRequest(.obsoleteLineFolding)),
        Invalid(name: "trailer starting with a tab", raw: "0\r\n\tX: 1\r\n\r\n", error: .badRequest(.obsoleteLineFolding)),
        Invalid(name: "space before a trailer's colon", raw: "0\r\nX : 1\r\n\r\n", error: .badRequest(.whitespaceBeforeColon)),
        Invalid(name: "NUL in a trailer name", raw: "0\r\nX\u{0}Y: 1\r\n\r\n", error: .badRequest(.invalidHeaderName)),
        Invalid(name: "NUL in a trailer value", raw: "0\r\nX: a\u{0}b\r\n\r\n", error: .badRequest(.invalidHeaderValue)),
        Invalid(name: "DEL in a trailer value", raw: "0\r\nX: a\u{7F}b\r\n\r\n", error: .badRequest(.invalidHeaderValue)),
        Invalid(name: "bare CR in a trailer value", raw: "0\r\nX: a\rb\r\n\r\n", error: .badRequest(.bareCR)),
        Invalid(name: "separator in a trailer name", raw: "0\r\nX(Y): 1\r\n\r\n", error: .badRequest(.invalidHeaderName)),
        Invalid(name: "trailer section past 16 KiB", raw: "0\r\nX: " + String(repeating: "a", count: 17000) + "\r\n\r\n", error: .headerTooLarge),
        Invalid(name: "body over the limit", raw: "11\r\n", error: .bodyTooLarge),
        Invalid(name: "chunk extension past 4 KiB", raw: "1;" + String(repeating: "a", count: 5000) + "\r\n", error: .badRequest(.chunkLineTooLong)),
        Invalid(name: "whitespace past 4 KiB", raw: "1" + String(repeating: " ", count: 5000) + "\r\n", error: .badRequest(.chunkLineTooLong)),
    ]

    @Test(arguments: invalid + invalidExtensions)
    func refuses(_ c: Invalid) {
        let (progress, _, _) = decodeChunked(Array(c.raw.utf8), maxBodyBytes: 16)
        #expect(progress == .invalid(c.error))
    }

    /// The same refusals when the bytes arrive in two parts, cut anywhere:
    /// the decoder's saved state must not let a bad framing through.
    @Test(arguments: invalid + invalidExtensions)
    func refusesAtEverySplit(_ c: Invalid) {
        let raw = Array(c.raw.utf8)
        for k in 1..<raw.count {
            var decoder = ChunkedDecoder()
            var buffer = Array(raw[..<k])
            var rawOffset = 0, bodyEnd = 0
            let first = buffer.withUnsafeMutableBytes { decoder.decode($0, rawOffset: &rawOffset, bodyEnd: &bodyEnd, maxBodyBytes: 16) }
            if first == .invalid(c.error) { continue }   // refused already, from the first part
            #expect(first == .needMore, "split at \(k): \(first)")
            buffer.append(contentsOf: raw[k...])
            let second = buffer.withUnsafeMutableBytes { decoder.decode($0, rawOffset: &rawOffset, bodyEnd: &bodyEnd, maxBodyBytes: 16) }
            #expect(second == .invalid(c.error), "split at \(k)")
        }
    }

    @Test(arguments: invalid + invalidExtensions)
    func refusesByteByByte(_ c: Invalid) {
        let (progress, _, _) = decodeByteByByte(Array(c.raw.utf8), maxBodyBytes: 16)
        #expect(progress == .invalid(c.error))
    }
}

/// Chunk extensions by RFC 9112 §7.1.1:
///
///     chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
///     chunk-ext-name = token
///     chunk-ext-val  = token / quoted-string
///
/// Whitespace only around ';' and '=', a balanced quoted-string, and nothing
/// else: every other form is refused, whole, split or byte by byte.
extension ChunkedDecoderTests {
    /// What a broken extension is refused with (a reason of its own would be
    /// "invalid chunk extension"; until RequestHead.swift has one, this).
    static let badExtension = RequestError.badRequest(.invalidChunkExtension)

    /// `line` is a chunk-size line for 5 bytes, without its CRLF; the rest is fixed.
    static func ext(_ name: String, _ line: String) -> Valid {
        Valid(name: name, raw: line + "\r\nhello\r\n0\r\n\r\n", body: "hello")
    }

    static let validExtensions: [Valid] = [
        ext("name only", "5;a"),
        ext("name and token value", "5;a=b"),
        ext("whitespace after ';'", "5; a=b"),
        ext("tab after ';'", "5;\ta=b"),
        ext("whitespace before ';'", "5 ;a"),
        ext("tab before ';'", "5\t;a"),
        ext("whitespace on both sides of ';'", "5 \t ; \t a"),
        ext("whitespace before '='", "5;a =b"),
        ext("whitespace after '='", "5;a= b"),
        ext("whitespace around '='", "5;a \t= \tb"),
        ext("whitespace everywhere the grammar has BWS", "5 ; a = b ; c = \"d\" ; e"),
        ext("quoted value", "5;a=\"b\""),
        ext("quoted value with a space", "5;a=\"x y\""),
        ext("quoted value with a tab", "5;a=\"x\ty\""),
        ext("empty quoted value", "5;a=\"\""),
        ext("quoted value with ';' and '='", "5;a=\"b;c=d\""),
        ext("quoted value with every separator", "5;a=\"(),/:;<=>?@[]{} !#\""),
        ext("escaped quote", "5;a=\"q\\\"x\""),
        ext("escaped backslash", "5;a=\"\\\\\""),
        ext("escaped backslash before the closing quote", "5;a=\"x\\\\\";b"),
        ext("escaped letter, space and tab", "5;a=\"\\x\\ \\\t\""),
        ext("obs-text in a quoted value", "5;a=\"café\""),
        ext("obs-text escaped in a quoted value", "5;a=\"\\é\""),
        ext("two extensions", "5;a=b;c=d"),
        ext("many extensions", "5;a;b=1;c=\"2\";d;e=f"),
        ext("quoted value then another extension", "5;a=\"x\";b"),
        ext("quoted value, whitespace, another extension", "5;a=\"x\" ;b"),
        ext("same name twice", "5;a=1;a=2"),
        ext("every tchar in name and value", "5;!#$%&'*+-.^_`|~09AZaz=!#$%&'*+-.^_`|~09AZaz"),
        ext("digits as name and value", "5;1=2"),
        ext("leading zeros then an extension", "0005;a=b"),
        Valid(name: "extension on the last chunk", raw: "5\r\nhello\r\n0;last=\"yes\"\r\n\r\n", body: "hello"),
        Valid(name: "extension on the last chunk, then trailers", raw: "5\r\nhello\r\n0 ; x\r\nX-T: 1\r\n\r\n", body: "hello"),
        Valid(name: "extensions on every chunk", raw: "3;a=1\r\nabc\r\n2 ; b=\"2\"\r\nde\r\n0;c\r\n\r\n", body: "abcde"),
        Valid(name: "a line of CRLF-looking data after an extension",
              raw: "4;a=\"\\;\"\r\n\r\n\r\n\r\n0\r\n\r\n", body: "\r\n\r\n"),
        Valid(name: "a long extension under 4 KiB",
              raw: "5;a=\"" + String(repeating: "x", count: 4000) + "\"\r\nhello\r\n0\r\n\r\n", body: "hello"),
    ]

    static func bad(_ name: String, _ line: String, _ error: RequestError = badExtension) -> Invalid {
        Invalid(name: name, raw: line + "hello\r\n0\r\n\r\n", error: error)
    }

    static let invalidExtensions: [Invalid] = [
        // Missing pieces.
        bad("';' and no name", "5;\r\n"),
        bad("';', whitespace and no name", "5; \r\n"),
        bad("two ';' in a row", "5;;a\r\n"),
        bad("';' at the end after a name", "5;a;\r\n"),
        bad("';' at the end after a value", "5;a=b;\r\n"),
        bad("value without a name", "5;=b\r\n"),
        bad("'=' without a value", "5;a=\r\n"),
        bad("'=' and whitespace without a value", "5;a= \r\n"),
        bad("'=' then ';'", "5;a=;b\r\n"),
        bad("'=' twice", "5;a==b\r\n"),
        bad("two values", "5;a=b=c\r\n"),
        bad("extension without ';'", "5a=b\r\n", .badRequest(.invalidChunkSize)),
        bad("size missing before the extension", ";a=b\r\n", .badRequest(.invalidChunkSize)),
        // Whitespace where the grammar has none.
        bad("whitespace after the size, then CRLF", "5 \r\n"),
        bad("tab after the size, then CRLF", "5\t\r\n"),
        bad("whitespace after the size, then a word", "5 x=y\r\n"),
        bad("whitespace inside a name", "5;a b\r\n"),
        bad("whitespace inside a token value", "5;a=b c\r\n"),
        bad("whitespace after a name, then CRLF", "5;a \r\n"),
        bad("whitespace after a value, then CRLF", "5;a=b \r\n"),
        bad("whitespace after a quoted value, then CRLF", "5;a=\"x\" \r\n"),
        bad("whitespace after a value, then a word", "5;a=b \tc\r\n"),
        // Characters outside token.
        bad("'@' in a name", "5;a@b\r\n"),
        bad("'/' in a name", "5;a/b=c\r\n"),
        bad("'@' in a token value", "5;a=b@c\r\n"),
        bad("',' instead of ';'", "5;a=b,c=d\r\n"),
        bad("quoted name", "5;\"x\"\r\n"),
        bad("quoted name with a value", "5;\"x\"=y\r\n"),
        bad("quote inside a token value", "5;a=b\"c\"\r\n"),
        bad("text glued to a closing quote", "5;a=\"x\"y\r\n"),
        bad("two quoted strings", "5;a=\"x\"\"y\"\r\n"),
        bad("obs-text in a name", "5;é\r\n"),
        bad("obs-text in a token value", "5;a=é\r\n"),
        bad("DEL in a name", "5;a\u{7F}\r\n"),
        bad("DEL in a token value", "5;a=\u{7F}\r\n"),
        // Unbalanced quoted strings.
        bad("quote never closed", "5;a=\"x\r\n"),
        bad("quote opened at the end", "5;a=\"\r\n"),
        bad("closing quote escaped", "5;a=\"x\\\"\r\n"),
        bad("lone backslash at the end of the line", "5;a=\"x\\\r\n"),
        bad("quote never closed, CRLF inside, closed later", "5;a=\"x\r\n\"\r\n"),
        // Control bytes.
        bad("NUL in a name", "5;a\u{0}b\r\n"),
        bad("NUL after ';'", "5;\u{0}\r\n"),
        bad("control byte in a token value", "5;a=b\u{1}\r\n"),
        bad("control byte in a quoted value", "5;a=\"\u{1}\"\r\n"),
        bad("DEL in a quoted value", "5;a=\"x\u{7F}\"\r\n"),
        bad("escaped DEL", "5;a=\"\\\u{7F}\"\r\n"),
        bad("escaped NUL", "5;a=\"\\\u{0}\"\r\n"),
        bad("escaped CR", "5;a=\"\\\rx\"\r\n"),
        bad("escaped LF", "5;a=\"\\\nx\"\r\n", .badRequest(.bareLF)),
        bad("vertical tab as whitespace", "5;\u{0B}a\r\n"),
        bad("form feed before '='", "5;a\u{0C}=b\r\n"),
        bad("CR inside a quoted value", "5;a=\"x\ry\"\r\n"),
        // Bare CR and LF: a line may not end in the middle of an extension.
        bad("bare LF after ';'", "5;\n", .badRequest(.bareLF)),
        bad("bare LF after a name", "5;a\n", .badRequest(.bareLF)),
        bad("bare LF after '='", "5;a=\n", .badRequest(.bareLF)),
        bad("bare LF after a token value", "5;a=b\n", .badRequest(.bareLF)),
        bad("bare LF in a quoted value", "5;a=\"x\ny\"\r\n", .badRequest(.bareLF)),
        bad("bare LF after a quoted value", "5;a=\"x\"\n", .badRequest(.bareLF)),
        bad("bare LF after whitespace after the size", "5 \n", .badRequest(.bareLF)),
        bad("bare LF after whitespace after a name", "5;a \n", .badRequest(.bareLF)),
        bad("bare CR inside a name", "5;a\rb\r\n", .badRequest(.bareCR)),
        bad("bare CR after a token value", "5;a=b\rc\r\n", .badRequest(.bareCR)),
        bad("bare CR after a quoted value", "5;a=\"x\"\r;b\r\n", .badRequest(.bareCR)),
        bad("CR CR LF after a name", "5;a\r\r\n", .badRequest(.bareCR)),
        // Folded like obs-fold: the CRLF ends the line, so what follows is
        // data, and it does not frame.
        Invalid(name: "obs-fold after an extension, read as data", raw: "5;a=b\r\n c=d\r\nhello\r\n0\r\n\r\n",
                error: .badRequest(.bareLF)),
        Invalid(name: "obs-fold before '=', read as data", raw: "5;a\r\n\t=b\r\nhello\r\n0\r\n\r\n",
                error: .badRequest(.invalidChunkFraming)),
        Invalid(name: "obs-fold inside a quoted value", raw: "5;a=\"x\r\n y\"\r\nhello\r\n0\r\n\r\n", error: badExtension),
        // In a later chunk, or the last.
        Invalid(name: "bad extension on the second chunk", raw: "5;a=b\r\nhello\r\n3;a b\r\nabc\r\n0\r\n\r\n", error: badExtension),
        Invalid(name: "bad extension on the last chunk", raw: "5\r\nhello\r\n0;\r\n\r\n", error: badExtension),
        Invalid(name: "unbalanced quote on the last chunk", raw: "5\r\nhello\r\n0;a=\"\r\n\r\n", error: badExtension),
        // The 4 KiB cap on the line holds in every part of an extension.
        Invalid(name: "whitespace after ';' past 4 KiB", raw: "1;" + String(repeating: " ", count: 5000) + "a\r\n",
                error: .badRequest(.chunkLineTooLong)),
        Invalid(name: "token value past 4 KiB", raw: "1;a=" + String(repeating: "v", count: 5000) + "\r\n",
                error: .badRequest(.chunkLineTooLong)),
        Invalid(name: "quoted value past 4 KiB", raw: "1;a=\"" + String(repeating: "q", count: 5000) + "\"\r\n",
                error: .badRequest(.chunkLineTooLong)),
        Invalid(name: "escapes past 4 KiB", raw: "1;a=\"" + String(repeating: "\\\"", count: 2500) + "\"\r\n",
                error: .badRequest(.chunkLineTooLong)),
        Invalid(name: "many extensions past 4 KiB", raw: "1" + String(repeating: ";a=b", count: 1100) + "\r\n",
                error: .badRequest(.chunkLineTooLong)),
    ]

    /// Every byte value in each place of an extension, against the grammar
    /// written out here from the RFC's definitions (not the decoder's table).
    @Test func everyByteInEveryPlace() {
        func isTchar(_ b: UInt8) -> Bool {
            (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b)
                || "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
        func isQdtext(_ b: UInt8) -> Bool {
            b == 0x09 || b == 0x20 || b == 0x21 || (0x23...0x5B).contains(b) || (0x5D...0x7E).contains(b) || b >= 0x80
        }
        func isQuotedPairByte(_ b: UInt8) -> Bool { b == 0x09 || b == 0x20 || (0x21...0x7E).contains(b) || b >= 0x80 }
        let tail = Array("\r\nhello\r\n0\r\n\r\n".utf8)
        let places: [(name: String, before: String, after: String, accepts: (UInt8) -> Bool)] = [
            // "a;b" is two names and "a=b" a name and a value: both valid.
            ("in a name", "5;a", "b", { isTchar($0) || $0 == 0x3B || $0 == 0x3D }),
            ("first byte of a name", "5;", "a", { isTchar($0) || $0 == 0x20 || $0 == 0x09 }),
            ("in a token value", "5;a=b", "c", { isTchar($0) || $0 == 0x3B }),
            ("first byte of a value", "5;a=", "c", { isTchar($0) || $0 == 0x20 || $0 == 0x09 }),
            ("in a quoted value", "5;a=\"", "\"", isQdtext),
            ("after a backslash in a quoted value", "5;a=\"\\", "\"", isQuotedPairByte),
            ("after a closing quote", "5;a=\"x\"", "b", { $0 == 0x3B }),
            ("after a closing quote, before ';'", "5;a=\"x\"", ";b", { $0 == 0x20 || $0 == 0x09 }),
            ("after whitespace after a name, before '='", "5;a ", "=b", { $0 == 0x20 || $0 == 0x09 }),
            ("after whitespace after the size, before ';'", "5 ", ";a", { $0 == 0x20 || $0 == 0x09 }),
        ]
        for place in places {
            for b in 0...255 {
                let byte = UInt8(b)
                let hex = "0x" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
                let raw = Array(place.before.utf8) + [byte] + Array(place.after.utf8) + tail
                let (progress, body, consumed) = decodeChunked(raw)
                let byteByByte = decodeByteByByte(raw).0
                #expect(progress == byteByByte, "\(place.name): \(hex)")
                if place.accepts(byte) {
                    #expect(progress == .done, "\(place.name): \(hex) refused: \(progress)")
                    #expect(body == Array("hello".utf8) && consumed == raw.count, "\(place.name): \(hex)")
                } else {
                    #expect(progress != .done && progress != .needMore,
                            "\(place.name): \(hex) accepted")
                }
            }
        }
    }

    /// The decoder lives in every connection: the grammar's states fit in the
    /// state byte it already had, so the connection grows by nothing.
    @Test func stateAddsNoBytes() {
        #expect(MemoryLayout<ChunkedDecoder>.size <= 56)
    }
}

extension ChunkedDecoderTests {
    @Test func framingIsBoundedNotJustTheData() {
        // 17 bytes of data under a 1,000-byte limit, but ~68 KB of extensions around them.
        let chunk = "1;" + String(repeating: "x", count: 3990) + "\r\na\r\n"
        let raw = String(repeating: chunk, count: 17) + "0\r\n\r\n"
        let (progress, _, _) = decodeChunked(Array(raw.utf8), maxBodyBytes: 1000)
        #expect(progress == .invalid(.bodyTooLarge))
        let fine = String(repeating: chunk, count: 10) + "0\r\n\r\n"
        #expect(decodeChunked(Array(fine.utf8), maxBodyBytes: 1000).0 == .done)
    }
}

/// Feeds `raw` one byte per call, the buffer growing by that byte each time,
/// until the decoder stops asking for more. Returns progress, decoded body,
/// and how many bytes it had been given when it stopped.
func decodeByteByByte(_ raw: [UInt8], maxBodyBytes: Int = 1 << 20) -> (ChunkedDecoder.Progress, [UInt8], Int) {
    var decoder = ChunkedDecoder()
    var buffer: [UInt8] = []
    buffer.reserveCapacity(raw.count)
    var rawOffset = 0, bodyEnd = 0
    var progress = ChunkedDecoder.Progress.needMore
    for b in raw {
        buffer.append(b)
        progress = buffer.withUnsafeMutableBytes {
            decoder.decode($0, rawOffset: &rawOffset, bodyEnd: &bodyEnd, maxBodyBytes: maxBodyBytes)
        }
        if progress != .needMore { break }
    }
    return (progress, Array(buffer[0..<bodyEnd]), buffer.count)
}

@Suite("Percent-decoding")
struct PercentDecodingTests {
    @Test(arguments: [
        ("/plain", "/plain"), ("/h%65llo", "/hello"), ("/a%20b", "/a b"), ("/caf%C3%A9", "/café"), ("/%7e", "/~"),
        ("/a%2eb", "/a.b"), ("/%2541", "/%41"),   // decoded once: %25 is '%', and that is all
    ])
    func decodes(_ input: String, _ expected: String) {
        var out = ByteBuffer()
        defer { out.release() }
        let refusal = Array(input.utf8).withUnsafeBytes { PercentDecoding.decodePath($0, into: &out) }
        #expect(refusal == nil)
        #expect(String(decoding: out.readable, as: UTF8.self) == expected)
    }

    @Test(arguments: [
        ("/%G1", StaticReason.invalidPercentEncoding), ("/%4", .invalidPercentEncoding), ("/%", .invalidPercentEncoding),
        ("/a%00b", .invalidPercentEncoding), ("/%%41", .invalidPercentEncoding),
        ("/a%2Fb", .encodedSlash), ("/a%2fb", .encodedSlash),
    ])
    func refuses(_ input: String, _ reason: StaticReason) {
        var out = ByteBuffer()
        defer { out.release() }
        #expect(Array(input.utf8).withUnsafeBytes { PercentDecoding.decodePath($0, into: &out) } == reason)
    }

    @Test(arguments: [
        ("/a/../b", true), ("/a/./b", true), ("/..", true), ("/.", true), ("/a/..", true),
        ("/a/.b", false), ("/a/..b", false), ("/a./b", false), ("/...", false), ("/", false), ("/a/b", false),
    ])
    func dotSegments(_ path: String, _ found: Bool) {
        #expect(Array(path.utf8).withUnsafeBytes { PercentDecoding.hasDotSegment($0) } == found, "\(path)")
    }
}
