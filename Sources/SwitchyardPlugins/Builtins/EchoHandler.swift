#if canImport(Glibc)
import Glibc
#endif
import CSwitchyardLinux
import SwitchyardHTTP

/// `builtin.echo`: the request as JSON — method, path, query, headers, body —
/// plus the `pid` and the OS `thread` name that ran it, so tests can see
/// where each mode runs a handler. A chunked request gets a chunked answer,
/// so clients can see both framings end to end. The JSON is written in one
/// pass over the request's bytes (a 1 MiB body in a few milliseconds).
struct EchoHandler: SyncHandler {
    func respond(to request: HandlerRequest, into response: inout Response) {
        response.addHeader("Content-Type", "application/json")
        if request.head.framing == .chunked { response.chunked = true }
        let bytes = request.buffer
        var out = response.body
        defer { response.body = out }
        out.append("{\"method\":")
        JSONWriter.appendString(request.head.methodRange.bytes(in: bytes), to: &out)
        out.append(",\"path\":")
        JSONWriter.appendString(request.path, to: &out)
        out.append(",\"query\":")
        if request.head.hasQuery { JSONWriter.appendString(request.head.query.bytes(in: bytes), to: &out) } else { out.append("null") }
        out.append(",\"headers\":[")
        for i in 0..<request.headers.count {
            let field = request.headers[i]
            out.append(i > 0 ? ",[" : "[")
            JSONWriter.appendString(field.name.bytes(in: bytes), to: &out)
            out.append(",")
            JSONWriter.appendString(field.value.bytes(in: bytes), to: &out)
            out.append("]")
        }
        out.append("],\"body\":")
        JSONWriter.appendString(request.body, to: &out)
        out.append(",\"pid\":")
        out.appendDecimal(Int(getpid()))
        out.append(",\"thread\":")
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 32) { name in
            name.initialize(repeating: 0)
            _ = cswitchyard_get_thread_name(name.baseAddress!, 32)
            JSONWriter.appendString(UnsafeRawBufferPointer(start: name.baseAddress!, count: strlen(name.baseAddress!)), to: &out)
        }
        out.append("}\n")
    }
}
