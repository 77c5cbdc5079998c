import SwitchyardHTTP

/// Feeds bytes to the parser as a server does: the buffer grows, `scan`
/// is kept between calls.
struct IncrementalParse {
    let parser: RequestParser
    var headers = HeaderTable()
    var scan = HeadScan()
    var bytes: [UInt8] = []

    init(maxHeaderBytes: Int = 16384, maxTargetBytes: Int = 8192) {
        parser = RequestParser(maxHeaderBytes: maxHeaderBytes, maxTargetBytes: maxTargetBytes)
    }

    mutating func feed(_ more: some Sequence<UInt8>) -> ParseResult {
        bytes.append(contentsOf: more)
        return bytes.withUnsafeBytes { parser.parse($0, headers: &headers, scan: &scan) }
    }

    /// Header `i` as (name, value) strings.
    func header(_ i: Int) -> (String, String) {
        let field = headers[i]
        return bytes.withUnsafeBytes { raw in
            (String(decoding: field.name.bytes(in: raw), as: UTF8.self),
             String(decoding: field.value.bytes(in: raw), as: UTF8.self))
        }
    }

    func text(_ range: ByteRange) -> String {
        bytes.withUnsafeBytes { String(decoding: range.bytes(in: $0), as: UTF8.self) }
    }
}

func parseOnce(_ text: String, maxHeaderBytes: Int = 16384, maxTargetBytes: Int = 8192) -> (ParseResult, IncrementalParse) {
    var p = IncrementalParse(maxHeaderBytes: maxHeaderBytes, maxTargetBytes: maxTargetBytes)
    let result = p.feed(Array(text.utf8))
    return (result, p)
}

/// Decodes a whole chunked body in one call; returns progress, decoded body, bytes consumed.
func decodeChunked(_ raw: [UInt8], maxBodyBytes: Int = 1 << 20) -> (ChunkedDecoder.Progress, [UInt8], Int) {
    var buffer = raw
    var decoder = ChunkedDecoder()
    var rawOffset = 0, bodyEnd = 0
    let progress = buffer.withUnsafeMutableBytes {
        decoder.decode($0, rawOffset: &rawOffset, bodyEnd: &bodyEnd, maxBodyBytes: maxBodyBytes)
    }
    return (progress, Array(buffer[0..<bodyEnd]), rawOffset)
}
