import Testing
import SwitchyardHTTP

@Suite("Request parser: valid requests")
struct ValidRequestTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var bytes: String
        var method: HTTPMethod
        var path: String
        var query: String?
        var minor: UInt8 = 1
        var framing: BodyFraming = .none
        var keepAlive = true
        var expectContinue = false
        var headerCount: Int
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "simple GET", bytes: "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n",
             method: .get, path: "/hello", headerCount: 1),
        Case(name: "query", bytes: "GET /a/b?x=1&y HTTP/1.1\r\nHost: a\r\n\r\n",
             method: .get, path: "/a/b", query: "x=1&y", headerCount: 1),
        Case(name: "empty query", bytes: "GET /a? HTTP/1.1\r\nHost: a\r\n\r\n",
             method: .get, path: "/a", query: "", headerCount: 1),
        Case(name: "absolute-form", bytes: "GET http://example.com:8080/p?q HTTP/1.1\r\nHost: example.com\r\n\r\n",
             method: .get, path: "/p", query: "q", headerCount: 1),
        Case(name: "absolute-form without path", bytes: "GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
             method: .get, path: "", headerCount: 1),
        Case(name: "asterisk-form", bytes: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
             method: .options, path: "*", headerCount: 1),
        Case(name: "HTTP/1.0 without Host closes", bytes: "GET / HTTP/1.0\r\n\r\n",
             method: .get, path: "/", minor: 0, keepAlive: false, headerCount: 0),
        Case(name: "HTTP/1.0 keep-alive", bytes: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
             method: .get, path: "/", minor: 0, keepAlive: true, headerCount: 1),
        Case(name: "Connection list with close", bytes: "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, CLOSE\r\n\r\n",
             method: .get, path: "/", keepAlive: false, headerCount: 2),
        Case(name: "HTTP/1.2 is answered as 1.1", bytes: "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
             method: .get, path: "/", headerCount: 1),
        Case(name: "Content-Length", bytes: "POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
             method: .post, path: "/e", framing: .contentLength(5), headerCount: 2),
        Case(name: "identical duplicate Content-Length", bytes: "POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n",
             method: .post, path: "/e", framing: .contentLength(5), headerCount: 3),
        Case(name: "Content-Length 0", bytes: "POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
             method: .post, path: "/e", headerCount: 2),
        Case(name: "chunked, any case, trailing space", bytes: "POST /e HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD \r\n\r\n",
             method: .post, path: "/e", framing: .chunked, headerCount: 2),
        Case(name: "Expect 100-continue", bytes: "PUT /e HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n",
             method: .put, path: "/e", framing: .contentLength(1), expectContinue: true, headerCount: 3),
        Case(name: "leading empty lines skipped", bytes: "\r\n\r\nDELETE /x HTTP/1.1\r\nHost: a\r\n\r\n",
             method: .delete, path: "/x", headerCount: 1),
        Case(name: "extension method", bytes: "PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n",
             method: .other, path: "/x", headerCount: 1),
        Case(name: "obs-text and tabs in a value", bytes: "GET / HTTP/1.1\r\nHost: a\r\nX-A:\t caf\u{e9}\t\r\n\r\n",
             method: .get, path: "/", headerCount: 2),
        Case(name: "empty header value", bytes: "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n",
             method: .get, path: "/", headerCount: 2),
    ]

    @Test(arguments: cases)
    func parses(_ c: Case) throws {
        let (result, p) = parseOnce(c.bytes)
        guard case .complete(let head) = result else {
            Issue.record("expected complete, got \(result)")
            return
        }
        #expect(head.method == c.method)
        #expect(p.text(head.path) == c.path)
        #expect(head.hasQuery == (c.query != nil))
        if let query = c.query { #expect(p.text(head.query) == query) }
        #expect(head.versionMinor == c.minor)
        #expect(head.framing == c.framing)
        #expect(head.keepAlive == c.keepAlive)
        #expect(head.expectContinue == c.expectContinue)
        #expect(head.headLength == c.bytes.utf8.count)
        #expect(p.headers.count == c.headerCount)
    }

    @Test func headerValuesAreTrimmedAndRecorded() {
        let (result, p) = parseOnce("GET / HTTP/1.1\r\nHost:  example.com \r\nAccept-Encoding: gzip, br\r\nIf-None-Match: \"x\"\r\n\r\n")
        guard case .complete(let head) = result else { Issue.record("\(result)"); return }
        #expect(p.header(0) == ("Host", "example.com"))
        #expect(p.text(head.host) == "example.com")
        #expect(head.hasAcceptEncoding && p.text(head.acceptEncoding) == "gzip, br")
        #expect(head.hasIfNoneMatch && p.text(head.ifNoneMatch) == "\"x\"")
    }

    @Test func pipelinedRequestsParseOneAfterAnother() {
        let first = "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
        let second = "GET /b HTTP/1.1\r\nHost: a\r\n\r\n"
        let bytes = Array((first + second).utf8)
        var headers = HeaderTable()
        defer { headers.release() }
        var scan = HeadScan()
        let parser = RequestParser()
        let one = bytes.withUnsafeBytes { parser.parse($0, headers: &headers, scan: &scan) }
        guard case .complete(let head) = one, case .contentLength(let length) = head.framing else {
            Issue.record("\(one)"); return
        }
        let next = head.headLength + length
        scan = HeadScan()
        let two = bytes.withUnsafeBytes { parser.parse(UnsafeRawBufferPointer(rebasing: $0[next...]), headers: &headers, scan: &scan) }
        guard case .complete(let secondHead) = two else { Issue.record("\(two)"); return }
        #expect(secondHead.method == .get)
        #expect(secondHead.headLength == second.utf8.count)
    }
}

extension ValidRequestTests {
    /// A byte-at-a-time client: the line-end shortcut must not let a request
    /// line or a header section grow past its limit unnoticed.
    @Test func limitsHoldWhenFedOneByteAtATime() {
        var line = IncrementalParse(maxHeaderBytes: 4096, maxTargetBytes: 64)
        var result = ParseResult.incomplete
        for byte in Array(("GET /" + String(repeating: "a", count: 200)).utf8) where result == .incomplete {
            result = line.feed([byte])
        }
        #expect(result == .invalid(.targetTooLong))
        #expect(line.bytes.count <= 64 + 40, "noticed only after \(line.bytes.count) bytes")

        var header = IncrementalParse(maxHeaderBytes: 512, maxTargetBytes: 64)
        result = .incomplete
        for byte in Array(("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "b", count: 1000)).utf8) where result == .incomplete {
            result = header.feed([byte])
        }
        #expect(result == .invalid(.headerTooLarge))
        #expect(header.bytes.count == 513)

        var whole = IncrementalParse()
        result = .incomplete
        for byte in Array("GET /x HTTP/1.1\r\nHost: a\r\nX-Long: \(String(repeating: "c", count: 9000))\r\n\r\n".utf8) {
            result = whole.feed([byte])
        }
        guard case .complete(let head) = result else { Issue.record("\(result)"); return }
        #expect(head.headLength == whole.bytes.count)
    }
}

@Suite("Request parser: hostile and malformed bytes")
struct HostileRequestTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var bytes: String
        var error: RequestError
        var testDescription: String { name }
    }

    static let longTarget = "/" + String(repeating: "a", count: 9000)
    static let manyHeaders = (0..<101).map { "X-\($0): v\r\n" }.joined()

    static let cases: [Case] = [
        // Smuggling: framing disagreements.
        Case(name: "CL with TE", bytes: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
             error: .badRequest(.contentLengthWithTransferEncoding)),
        Case(name: "TE before CL", bytes: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
             error: .badRequest(.contentLengthWithTransferEncoding)),
        Case(name: "differing CL", bytes: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
             error: .badRequest(.conflictingContentLength)),
        Case(name: "CL list", bytes: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
             error: .badRequest(.invalidContentLength)),
        Case(name: "CL with sign", bytes: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
             error: .badRequest(.invalidContentLength)),
        Case(name: "negative CL", bytes: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
             error: .badRequest(.invalidContentLength)),
        Case(name: "hex CL", bytes: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n",
             error: .badRequest(.invalidContentLength)),
        Case(name: "empty CL", bytes: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
             error: .badRequest(.invalidContentLength)),
        Case(name: "CL of 19 digits", bytes: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000000000000\r\n\r\n",
             error: .badRequest(.invalidContentLength)),
        Case(name: "chunked not final", bytes: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
             error: .badRequest(.chunkedNotFinal)),
        Case(name: "chunked twice", bytes: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
             error: .badRequest(.chunkedNotFinal)),
        Case(name: "gzip then chunked", bytes: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
             error: .unsupportedTransferCoding),
        Case(name: "gzip alone", bytes: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
             error: .unsupportedTransferCoding),
        Case(name: "TE split over two lines", bytes: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
             error: .unsupportedTransferCoding),
        Case(name: "TE in HTTP/1.0", bytes: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
             error: .badRequest(.transferEncodingOnHTTP10)),
        // Smuggling: line syntax.
        Case(name: "obs-fold", bytes: "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n",
             error: .badRequest(.obsoleteLineFolding)),
        Case(name: "space before colon", bytes: "GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 3\r\n\r\n",
             error: .badRequest(.whitespaceBeforeColon)),
        Case(name: "tab before colon", bytes: "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
             error: .badRequest(.whitespaceBeforeColon)),
        Case(name: "bare CR in value", bytes: "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",
             error: .badRequest(.bareCR)),
        Case(name: "bare CR after request line", bytes: "GET / HTTP/1.1\rHost: a\r\n\r\n",
             error: .badRequest(.bareCR)),
        Case(name: "bare LF ends header", bytes: "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",
             error: .badRequest(.bareLF)),
        Case(name: "bare LF ends request line", bytes: "GET / HTTP/1.1\nHost: a\r\n\r\n",
             error: .badRequest(.bareLF)),
        Case(name: "bare LF ends head", bytes: "GET / HTTP/1.1\r\nHost: a\r\n\n",
             error: .badRequest(.bareLF)),
        Case(name: "invalid header name char", bytes: "GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n",
             error: .badRequest(.invalidHeaderName)),
        Case(name: "header without colon", bytes: "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
             error: .badRequest(.invalidHeaderName)),
        Case(name: "empty header name", bytes: "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n",
             error: .badRequest(.invalidHeaderName)),
        Case(name: "NUL in value", bytes: "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n",
             error: .badRequest(.invalidHeaderValue)),
        Case(name: "DEL in value", bytes: "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{7f}b\r\n\r\n",
             error: .badRequest(.invalidHeaderValue)),
        Case(name: "missing Host", bytes: "GET / HTTP/1.1\r\nX: b\r\n\r\n",
             error: .badRequest(.missingHost)),
        Case(name: "two Hosts", bytes: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
             error: .badRequest(.duplicateHost)),
        // Request line.
        Case(name: "invalid method char", bytes: "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
             error: .badRequest(.invalidMethod)),
        Case(name: "lower-case is a different method, not an error", bytes: "get / HTTP/1.1\r\n\r\n",
             error: .badRequest(.missingHost)),
        Case(name: "two spaces", bytes: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
             error: .badRequest(.malformedRequestLine)),
        Case(name: "no version", bytes: "GET /\r\nHost: a\r\n\r\n",
             error: .badRequest(.malformedRequestLine)),
        Case(name: "relative target", bytes: "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n",
             error: .badRequest(.invalidTarget)),
        Case(name: "control char in target", bytes: "GET /a\u{1}b HTTP/1.1\r\nHost: a\r\n\r\n",
             error: .badRequest(.invalidTarget)),
        Case(name: "fragment in target", bytes: "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n",
             error: .badRequest(.invalidTarget)),
        Case(name: "HTTX", bytes: "GET / HTTX/1.1\r\nHost: a\r\n\r\n",
             error: .badRequest(.invalidVersion)),
        Case(name: "HTTP/11", bytes: "GET / HTTP/11\r\nHost: a\r\n\r\n",
             error: .badRequest(.invalidVersion)),
        Case(name: "HTTP/1.1x", bytes: "GET / HTTP/1.1x\r\nHost: a\r\n\r\n",
             error: .badRequest(.invalidVersion)),
        Case(name: "HTTP/2.0", bytes: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", error: .versionNotSupported),
        Case(name: "HTTP/0.9", bytes: "GET / HTTP/0.9\r\nHost: a\r\n\r\n", error: .versionNotSupported),
        Case(name: "HTTP/3.0", bytes: "GET / HTTP/3.0\r\nHost: a\r\n\r\n", error: .versionNotSupported),
        // No line end after the fault: the answer must not wait for one,
        // however the bytes are split (the line-end shortcut once did).
        Case(name: "bare CR ending the request line, no LF after", bytes: "GET /hello HTTP/1.1\rHost: x\r\r",
             error: .badRequest(.bareCR)),
        Case(name: "bare CR in a value, no LF after", bytes: "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb",
             error: .badRequest(.bareCR)),
        Case(name: "NUL in a value, no LF after", bytes: "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b",
             error: .badRequest(.invalidHeaderValue)),
        Case(name: "control char in target, no LF after", bytes: "GET /a\u{1}b", error: .badRequest(.invalidTarget)),
        Case(name: "space in a header name, no LF after", bytes: "GET / HTTP/1.1\r\nHost: a\r\nX Y",
             error: .badRequest(.whitespaceBeforeColon)),
        Case(name: "bare LF after empty lines", bytes: "\r\n\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
             error: .badRequest(.bareLF)),
        Case(name: "empty lines count toward the head's size",
             bytes: String(repeating: "\r\n", count: 8200) + "GET / HTTP/1.1\r\nHost: a\r\n\r\n", error: .headerTooLarge),
        // Limits.
        Case(name: "target too long", bytes: "GET \(longTarget) HTTP/1.1\r\nHost: a\r\n\r\n", error: .targetTooLong),
        Case(name: "head too large", bytes: "GET / HTTP/1.1\r\nHost: a\r\nX: \(String(repeating: "v", count: 17000))\r\n\r\n",
             error: .headerTooLarge),
        Case(name: "too many header fields", bytes: "GET / HTTP/1.1\r\nHost: a\r\n\(manyHeaders)\r\n", error: .headerTooLarge),
    ]

    @Test(arguments: cases)
    func refusedWhole(_ c: Case) {
        let (result, _) = parseOnce(c.bytes)
        #expect(result == .invalid(c.error))
    }

    /// The same bytes arriving in two reads, split at every offset: the
    /// outcome must not depend on where the split falls.
    @Test(arguments: cases.filter { $0.bytes.utf8.count < 400 })
    func refusedAtEverySplit(_ c: Case) {
        let bytes = Array(c.bytes.utf8)
        for k in 1..<bytes.count {
            var p = IncrementalParse()
            let first = p.feed(bytes[0..<k])
            if case .invalid(let e) = first {
                #expect(e == c.error, "split at \(k): early \(e)")
                continue
            }
            #expect(first == .incomplete, "split at \(k): \(first)")
            #expect(p.feed(bytes[k...]) == .invalid(c.error), "split at \(k)")
        }
    }

    @Test(arguments: cases.filter { $0.bytes.utf8.count < 400 })
    func refusedByteByByte(_ c: Case) {
        var p = IncrementalParse()
        var last = ParseResult.incomplete
        for byte in c.bytes.utf8 {
            last = p.feed([byte])
            if case .invalid = last { break }
            #expect(last == .incomplete)
        }
        #expect(last == .invalid(c.error))
    }

    @Test func longTargetIsRefusedBeforeTheLineEnds() {
        var p = IncrementalParse()
        #expect(p.feed(Array("GET \(Self.longTarget)".utf8)) == .invalid(.targetTooLong))
    }

    @Test func oversizedHeadIsRefusedBeforeItEnds() {
        var p = IncrementalParse(maxHeaderBytes: 1024)
        #expect(p.feed(Array("GET / HTTP/1.1\r\nHost: a\r\nX: \(String(repeating: "v", count: 2000))".utf8)) == .invalid(.headerTooLarge))
    }

    @Test func garbageIsRefusedAsSoonAsItsLineEnds() {
        var p = IncrementalParse()
        #expect(p.feed(Array("GARBAGE\r\n".utf8)) == .invalid(.badRequest(.malformedRequestLine)))
    }
}

@Suite("Request parser: valid requests split across reads")
struct SplitValidTests {
    @Test(arguments: ValidRequestTests.cases)
    func completesOnlyAtTheLastByte(_ c: ValidRequestTests.Case) {
        let bytes = Array(c.bytes.utf8)
        let (whole, _) = parseOnce(c.bytes)
        for k in 1..<bytes.count {
            var p = IncrementalParse()
            #expect(p.feed(bytes[0..<k]) == .incomplete, "split at \(k)")
            #expect(p.feed(bytes[k...]) == whole, "split at \(k)")
        }
        var p = IncrementalParse()
        for (i, byte) in bytes.enumerated() {
            let result = p.feed([byte])
            #expect(result == (i == bytes.count - 1 ? whole : .incomplete), "byte \(i)")
        }
    }
}
