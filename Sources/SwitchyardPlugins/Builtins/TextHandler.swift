import SwitchyardConfig

/// `builtin.text`: a fixed response (options `status`, `body`, `content_type`),
/// rendered once. Its strong ETag is the FNV-1a hash of the body.
enum TextHandler {
    static func content(options: [String: OptionValue]) -> FixedContent {
        let body = Array((options["body"]?.stringValue ?? "").utf8)
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in body { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let hex = String(hash, radix: 16)
        let status = options["status"]?.intValue ?? 200
        return FixedContent(
            status: status,
            contentType: options["content_type"]?.stringValue ?? "text/plain; charset=utf-8",
            body: body,
            // An ETag names a representation; a 4xx or 5xx answer has none worth revalidating.
            etag: (200...299).contains(status) ? "\"" + String(repeating: "0", count: 16 - hex.count) + hex + "\"" : nil)
    }

    /// 204 and 304 answers carry no body (RFC 9110 §15.3.5, §15.4.5).
    @Sendable static func check(_ options: [String: OptionValue]) -> (option: String, message: String)? {
        guard let status = options["status"]?.intValue, status == 204 || status == 304,
              let body = options["body"]?.stringValue, !body.isEmpty else { return nil }
        return ("body", "a \(status) answer has no body; remove `body` or choose another status")
    }
}
