import SwitchyardHTTP

/// Entity tags of compressed representations. A compressed body is a
/// different representation, so a strong ETag gets a suffix (`"abc"` becomes
/// `"abc-gzip"`), and If-None-Match understands both forms.
public enum ETagVariant {
    /// Appends the tag for `coding`: strong tags get `-gzip`/`-deflate` inside
    /// the quotes; weak tags and identity are appended unchanged.
    public static func append(_ etag: UnsafeRawBufferPointer, coding: ContentCoding, to out: inout ByteBuffer) {
        guard coding != .identity, etag.count >= 2, etag.first == 0x22, etag.last == 0x22 else {
            out.append(etag)
            return
        }
        out.append(UnsafeRawBufferPointer(rebasing: etag[0..<(etag.count - 1)]))
        out.append(coding == .gzip ? "-gzip\"" : "-deflate\"")
    }

    /// Whether an If-None-Match value (`*` or a list of entity tags) matches
    /// `etag` as sent in `coding`, by weak comparison (RFC 9110 §8.8.3.2):
    /// the tag itself for identity, the tag with `coding`'s suffix otherwise.
    /// A cache holding the identity copy gets the gzip one anew, not a 304
    /// it could not use.
    public static func ifNoneMatchMatches(_ header: UnsafeRawBufferPointer, etag: UnsafeRawBufferPointer,
                                          coding: ContentCoding) -> Bool {
        let tag = opaque(etag)
        guard tag.count >= 2 else { return false }
        let suffix: StaticString = coding == .gzip ? "-gzip" : (coding == .deflate ? "-deflate" : "")
        var i = 0
        let n = header.count
        while i < n {
            while i < n, header[i] == 0x20 || header[i] == 0x09 || header[i] == 0x2C { i += 1 }
            if i < n, header[i] == 0x2A { return true }   // *
            if i + 1 < n, header[i] == 0x57, header[i + 1] == 0x2F { i += 2 }   // W/
            guard i < n, header[i] == 0x22 else { return false }
            let start = i
            i += 1
            while i < n, header[i] != 0x22 { i += 1 }
            guard i < n else { return false }
            i += 1
            let candidate = UnsafeRawBufferPointer(rebasing: header[start..<i])
            if suffix.utf8CodeUnitCount == 0, candidate.elementsEqual(tag) { return true }
            if suffix.utf8CodeUnitCount > 0, candidate.count == tag.count + suffix.utf8CodeUnitCount,
               candidate.prefix(tag.count - 1).elementsEqual(tag.prefix(tag.count - 1)),
               UnsafeRawBufferPointer(rebasing: candidate[(tag.count - 1)..<(candidate.count - 1)])
                   .elementsEqual(UnsafeRawBufferPointer(start: suffix.utf8Start, count: suffix.utf8CodeUnitCount)) {
                return true
            }
        }
        return false
    }

    /// The quoted part of a tag, without a `W/` prefix.
    private static func opaque(_ etag: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if etag.count >= 2, etag[0] == 0x57, etag[1] == 0x2F { return UnsafeRawBufferPointer(rebasing: etag[2...]) }
        return etag
    }
}
