import Testing
import SwitchyardHTTP

/// Every status line the server can send: the ones it produces itself, the
/// registered ones a handler may set, and codes with no phrase at all.
@Suite("Status lines")
struct StatusLineTests {
    /// The contract's statuses the server produces itself, with RFC 9110's phrases.
    static let serverStatuses: [(Int, String)] = [
        (100, "Continue"), (200, "OK"), (304, "Not Modified"),
        (400, "Bad Request"), (403, "Forbidden"), (404, "Not Found"), (405, "Method Not Allowed"),
        (408, "Request Timeout"), (413, "Content Too Large"), (414, "URI Too Long"),
        (417, "Expectation Failed"), (431, "Request Header Fields Too Large"),
        (501, "Not Implemented"), (502, "Bad Gateway"), (503, "Service Unavailable"),
        (504, "Gateway Timeout"), (505, "HTTP Version Not Supported"),
    ]

    /// Every code in the IANA HTTP Status Code Registry with a phrase (not
    /// "(Unused)" or unassigned), plus 418.
    static let registered: Set<Int> = [
        100, 101, 102, 103,
        200, 201, 202, 203, 204, 205, 206, 207, 208, 226,
        300, 301, 302, 303, 304, 305, 307, 308,
        400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418,
        421, 422, 423, 424, 425, 426, 428, 429, 431, 451,
        500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
    ]

    static func line(_ status: Int) -> String { String(decoding: StatusLine.table[status], as: UTF8.self) }

    @Test("what the server sends itself has its exact phrase", arguments: serverStatuses.map { $0.0 })
    func serverStatus(_ status: Int) {
        let phrase = Self.serverStatuses.first { $0.0 == status }!.1
        #expect(Self.line(status) == "HTTP/1.1 \(status) \(phrase)\r\n")
        #expect(StatusLine.render(status) == StatusLine.table[status])
    }

    @Test("every registered code from 100 to 599 has a phrase; no other code does")
    func everyRegisteredCode() {
        for status in 100...599 {
            let phrase = StatusLine.reasonPhrase(status)
            #expect(phrase.isEmpty != Self.registered.contains(status), "\(status): '\(phrase)'")
        }
    }

    /// RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ],
    /// reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ).
    @Test("every code from 100 to 599 renders a valid status line, with or without a phrase")
    func everyLineIsValid() {
        for status in 100...599 {
            let bytes = StatusLine.table[status]
            let prefix = Array("HTTP/1.1 \(status) ".utf8)
            #expect(Array(bytes.prefix(prefix.count)) == prefix, "\(status)")
            #expect(bytes.suffix(2) == [13, 10], "\(status)")
            let phrase = bytes.dropFirst(prefix.count).dropLast(2)
            #expect(phrase.allSatisfy { $0 == 0x09 || $0 == 0x20 || (0x21...0x7E).contains($0) }, "\(status)")
            #expect(phrase.first != 0x20 && phrase.last != 0x20, "\(status): no stray spaces")
        }
        #expect(Self.line(299) == "HTTP/1.1 299 \r\n", "an unregistered code keeps the space before its empty phrase")
        #expect(Self.line(599) == "HTTP/1.1 599 \r\n")
    }

    @Test("codes below 100 have no line")
    func belowHundred() {
        #expect(StatusLine.table.count == 600)
        #expect(StatusLine.table[0..<100].allSatisfy { $0.isEmpty })
    }
}
