/// Which media types are worth compressing: an allow-list of text-like
/// types. Images, video, archives and anything unknown are left alone, and
/// `text/event-stream` never, since compression would hold events back.
public enum CompressiblePolicy {
    public static func isCompressible(contentType: UnsafeRawBufferPointer) -> Bool {
        // Media type up to parameters, trimmed, lower-cased into a small buffer.
        var end = 0
        while end < contentType.count, contentType[end] != 0x3B { end += 1 }
        while end > 0, contentType[end - 1] == 0x20 || contentType[end - 1] == 0x09 { end -= 1 }
        var start = 0
        while start < end, contentType[start] == 0x20 || contentType[start] == 0x09 { start += 1 }
        guard end - start > 0, end - start <= 127 else { return false }
        var lower = [UInt8](repeating: 0, count: end - start)
        for i in start..<end {
            let c = contentType[i]
            lower[i - start] = c >= 0x41 && c <= 0x5A ? c | 0x20 : c
        }
        let type = String(decoding: lower, as: UTF8.self)
        if type == "text/event-stream" { return false }
        if type.hasPrefix("text/") { return true }
        if allowed.contains(type) { return true }
        return type.hasPrefix("application/") && (type.hasSuffix("+json") || type.hasSuffix("+xml"))
    }

    static let allowed: Set<String> = [
        "application/json", "application/javascript", "application/x-javascript", "application/ecmascript",
        "application/xml", "application/xhtml+xml", "image/svg+xml", "application/wasm",
        "application/manifest+json", "application/graphql", "application/x-ndjson",
    ]
}
