import SwitchyardHTTP

/// Which media types are worth compressing: an allow-list of text-like
/// types. Images, video, archives and anything unknown are left alone, and
/// `text/event-stream` never, since compression would hold events back.
/// Compared on bytes, case-insensitively, without allocating.
public enum CompressiblePolicy {
    /// Whether an answer's coding is negotiated from Accept-Encoding: the
    /// route compresses, the answer has a body worth compressing (not 204,
    /// 304 or 206, at least `minBytes`) of a compressible type. One rule for
    /// fixed answers (rendered at load) and handlers' answers.
    public static func negotiates(routeCompresses: Bool, status: Int, bodyBytes: Int, minBytes: Int,
                                  contentType: UnsafeRawBufferPointer?) -> Bool {
        guard routeCompresses, StatusLine.allowsBody(status), status != 206, bodyBytes > 0, bodyBytes >= minBytes,
              let contentType else { return false }
        return isCompressible(contentType: contentType)
    }

    public static func isCompressible(contentType: UnsafeRawBufferPointer) -> Bool {
        // The media type: up to parameters, trimmed.
        var end = 0
        while end < contentType.count, contentType[end] != 0x3B { end += 1 }
        while end > 0, contentType[end - 1] == 0x20 || contentType[end - 1] == 0x09 { end -= 1 }
        var start = 0
        while start < end, contentType[start] == 0x20 || contentType[start] == 0x09 { start += 1 }
        let type = UnsafeRawBufferPointer(rebasing: contentType[start..<end])
        if type.isEmpty || equalsIgnoringCase(type, "text/event-stream") { return false }
        if hasPrefix(type, "text/") { return true }
        for allowed in allowed where equalsIgnoringCase(type, allowed) { return true }
        return hasPrefix(type, "application/") && (hasSuffix(type, "+json") || hasSuffix(type, "+xml"))
    }

    static let allowed: [StaticString] = [
        "application/json", "application/javascript", "application/x-javascript", "application/ecmascript",
        "application/xml", "image/svg+xml", "application/wasm", "application/graphql", "application/x-ndjson",
    ]

    private static func hasPrefix(_ bytes: UnsafeRawBufferPointer, _ lower: StaticString) -> Bool {
        bytes.count >= lower.utf8CodeUnitCount
            && equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: bytes.prefix(lower.utf8CodeUnitCount)), lower)
    }

    private static func hasSuffix(_ bytes: UnsafeRawBufferPointer, _ lower: StaticString) -> Bool {
        bytes.count >= lower.utf8CodeUnitCount
            && equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: bytes.suffix(lower.utf8CodeUnitCount)), lower)
    }
}
