import SwitchyardConfig

/// `builtin.text`: a fixed response (options `status`, `body`, `content_type`),
/// rendered once. Its strong ETag is the FNV-1a hash of the body.
enum TextHandler {
    static func content(options: [String: OptionValue]) -> FixedContent {
        let body = Array((options["body"]?.stringValue ?? "").utf8)
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in body { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let hex = String(hash, radix: 16)
        return FixedContent(
            status: options["status"]?.intValue ?? 200,
            contentType: options["content_type"]?.stringValue ?? "text/plain; charset=utf-8",
            body: body,
            etag: "\"" + String(repeating: "0", count: 16 - hex.count) + hex + "\"")
    }
}
