#if canImport(Glibc)
import Glibc
#endif
import CSwitchyardLinux
import SwitchyardHTTP

/// `builtin.echo`: the request as JSON — method, path, query, headers, body —
/// plus the `pid` and the OS `thread` name that ran it, so tests can see
/// where each mode runs a handler. A chunked request gets a chunked answer,
/// so clients can see both framings end to end.
struct EchoHandler: SyncHandler {
    func respond(to request: HandlerRequest, into response: inout Response) {
        var json = JSONWriter()
        json.raw("{\"method\":"); json.string(request.method)
        json.raw(",\"path\":"); json.string(request.pathString)
        json.raw(",\"query\":")
        if let query = request.query { json.string(query) } else { json.raw("null") }
        json.raw(",\"headers\":[")
        for i in 0..<request.headers.count {
            let field = request.headers[i]
            if i > 0 { json.raw(",") }
            json.raw("["); json.string(request.string(field.name))
            json.raw(","); json.string(request.string(field.value)); json.raw("]")
        }
        json.raw("],\"body\":"); json.string(String(decoding: request.body, as: UTF8.self))
        json.raw(",\"pid\":\(getpid()),\"thread\":"); json.string(Self.threadName())
        json.raw("}\n")
        response.addHeader("Content-Type", "application/json")
        if request.head.framing == .chunked { response.chunked = true }
        response.body.append(json.text)
    }

    static func threadName() -> String {
        var name = [CChar](repeating: 0, count: 32)
        _ = cswitchyard_get_thread_name(&name, name.count)
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Minimal JSON text building with correct string escaping.
struct JSONWriter {
    var text = ""

    mutating func raw(_ s: String) { text += s }

    mutating func string(_ s: String) {
        text += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}
