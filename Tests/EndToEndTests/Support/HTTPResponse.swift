import Foundation

/// One parsed HTTP/1.x response, as it came off the wire.
struct HTTPResponse {
    var version: String
    var status: Int
    var reason: String
    var headers: [(name: String, value: String)]
    /// The body after transfer decoding (chunks joined).
    var body: [UInt8]
    /// Trailer fields of a chunked body.
    var trailers: [(name: String, value: String)] = []
    /// Exactly the bytes this response occupied on the wire.
    var raw: [UInt8]

    var bodyString: String { String(decoding: body, as: UTF8.self) }
    var statusLine: String { "\(version) \(status) \(reason)" }

    /// The first value of `name` (case-insensitive), if any.
    func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// Every value of `name`, in order.
    func headerValues(_ name: String) -> [String] {
        headers.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
    }

    /// A comma-separated header's elements, lowercased and trimmed.
    func headerTokens(_ name: String) -> [String] {
        headerValues(name).flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { !$0.isEmpty }
    }

    /// True when the response says the connection will close.
    var saysClose: Bool { headerTokens("Connection").contains("close") }
}

/// What `ResponseParser.parse` found at the start of a buffer.
enum ResponseParse {
    case complete(HTTPResponse, consumed: Int)
    case incomplete
    case invalid(String)
}

/// A small, strict-enough HTTP/1.x response reader: status line, header
/// fields, then a body framed by HEAD/1xx/204/304 (none), chunked, Content-Length,
/// or the connection's close. Pure: works on bytes, so pipelined responses
/// in one buffer are split one at a time.
enum ResponseParser {
    static let crlf: [UInt8] = [0x0D, 0x0A]
    static let crlfcrlf: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A]

    /// - Parameters:
    ///   - bytes: the buffer, starting at a response.
    ///   - head: the request was HEAD, so there is no body whatever the headers say.
    ///   - atEOF: the peer has closed; a body without framing ends here.
    static func parse(_ bytes: [UInt8], head: Bool = false, atEOF: Bool = false) -> ResponseParse {
        guard let headEnd = bytes.firstIndex(of: crlfcrlf) else {
            if bytes.count >= 5, !bytes.starts(with: Array("HTTP/".utf8)) {
                return .invalid("does not start with HTTP/: \(visible(bytes.prefix(80)))")
            }
            return .incomplete
        }
        let headText = String(decoding: bytes[0..<headEnd], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]), parts[1].count == 3 else {
            return .invalid("bad status line: \(visible(Array(statusLine.utf8)))")
        }
        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { return .invalid("bad header line: \(line)") }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var response = HTTPResponse(version: String(parts[0]), status: status,
                                    reason: parts.count > 2 ? String(parts[2]) : "",
                                    headers: headers, body: [], raw: [])
        let bodyStart = headEnd + 4

        func finish(_ end: Int) -> ResponseParse {
            response.raw = Array(bytes[0..<end])
            return .complete(response, consumed: end)
        }

        if head || (100..<200).contains(status) || status == 204 || status == 304 {
            return finish(bodyStart)
        }
        if let te = response.headerTokens("Transfer-Encoding").last, te == "chunked" {
            var pos = bodyStart
            var body: [UInt8] = []
            while true {
                guard let lineEnd = bytes.firstIndex(of: crlf, from: pos) else { return .incomplete }
                let sizeText = String(decoding: bytes[pos..<lineEnd], as: UTF8.self)
                    .split(separator: ";", maxSplits: 1).first.map(String.init)?
                    .trimmingCharacters(in: .whitespaces) ?? ""
                guard let size = Int(sizeText, radix: 16), size >= 0 else {
                    return .invalid("bad chunk size line: \(visible(bytes[pos..<lineEnd]))")
                }
                pos = lineEnd + 2
                if size == 0 {
                    // Trailer section: field lines until an empty line.
                    while true {
                        guard let end = bytes.firstIndex(of: crlf, from: pos) else { return .incomplete }
                        if end == pos { response.body = body; return finish(end + 2) }
                        let line = String(decoding: bytes[pos..<end], as: UTF8.self)
                        if let colon = line.firstIndex(of: ":") {
                            response.trailers.append((String(line[..<colon]),
                                                      line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
                        }
                        pos = end + 2
                    }
                }
                guard bytes.count >= pos + size + 2 else { return .incomplete }
                body.append(contentsOf: bytes[pos..<(pos + size)])
                guard bytes[pos + size] == 0x0D, bytes[pos + size + 1] == 0x0A else {
                    return .invalid("chunk not followed by CRLF")
                }
                pos += size + 2
            }
        }
        let lengths = response.headerValues("Content-Length")
        if let first = lengths.first {
            guard let length = Int(first), length >= 0, lengths.allSatisfy({ $0 == first }) else {
                return .invalid("bad Content-Length: \(lengths)")
            }
            guard bytes.count >= bodyStart + length else { return .incomplete }
            response.body = Array(bytes[bodyStart..<(bodyStart + length)])
            return finish(bodyStart + length)
        }
        // Delimited by close.
        guard atEOF else { return .incomplete }
        response.body = Array(bytes[bodyStart...])
        return finish(bytes.count)
    }
}

/// `builtin.echo`'s JSON, decoded. Accepts headers as an object or as a list
/// of `[name, value]` pairs or `{name, value}` objects.
struct Echo {
    var method: String
    var path: String
    var query: String?
    var headers: [(name: String, value: String)]
    var body: String
    var pid: Int
    var thread: String

    init(_ response: HTTPResponse) throws {
        guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)),
              let json = object as? [String: Any] else {
            throw E2EError("echo body is not a JSON object: \(visible(response.body))")
        }
        method = json["method"] as? String ?? ""
        path = json["path"] as? String ?? ""
        query = json["query"] as? String
        body = json["body"] as? String ?? ""
        pid = (json["pid"] as? NSNumber)?.intValue ?? -1
        thread = json["thread"] as? String ?? ""
        var headers: [(name: String, value: String)] = []
        if let list = json["headers"] as? [Any] {
            for item in list {
                if let pair = item as? [String], pair.count == 2 {
                    headers.append((pair[0], pair[1]))
                } else if let obj = item as? [String: String], let n = obj["name"], let v = obj["value"] {
                    headers.append((n, v))
                }
            }
        } else if let obj = json["headers"] as? [String: Any] {
            for (name, value) in obj {
                if let s = value as? String { headers.append((name, s)) }
                else if let list = value as? [String] { for s in list { headers.append((name, s)) } }
            }
        }
        self.headers = headers
    }

    /// The query without a leading `?`, if the handler included one.
    var queryText: String? { query.map { $0.hasPrefix("?") ? String($0.dropFirst()) : $0 } }

    func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}
