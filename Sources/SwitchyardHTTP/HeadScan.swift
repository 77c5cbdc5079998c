/// Where the parser stopped in an incomplete request head, kept by the caller
/// between calls so that more bytes are looked at once, not re-parsed from
/// the start each time (picohttpparser's `last_len`, made exact per token).
public struct HeadScan: Sendable, Equatable {
    /// The token the bytes ran out in; `none` means parse from the start.
    public enum Part: UInt8, Sendable {
        case none
        /// Only whole empty lines (CRLF) so far.
        case emptyLines
        case method, target, headerName, headerValue
    }

    /// Start of the unfinished line.
    var lineStart: Int32 = 0
    /// How many bytes the last call saw.
    var parsedCount: Int32 = 0
    var part: Part = .none

    /// Nothing recorded: the next parse starts from the first byte.
    public init() {}

    init(lineStart: Int, parsedCount: Int, part: Part) {
        self.lineStart = Int32(truncatingIfNeeded: lineStart)
        self.parsedCount = Int32(truncatingIfNeeded: parsedCount)
        self.part = part
    }
}
