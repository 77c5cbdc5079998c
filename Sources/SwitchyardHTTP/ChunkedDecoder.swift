#if canImport(Glibc)
import Glibc
#endif

/// Decodes a chunked request body (RFC 9112 §7.1) in place and in steps.
///
/// Data bytes are moved down over the framing inside the same buffer, so a
/// body that arrived whole is decoded without a copy elsewhere. The decoder
/// keeps its state between calls; the connection stores it while it waits
/// for more bytes. Trailer fields are accepted and dropped.
public struct ChunkedDecoder: Sendable {
    public enum Progress: Sendable, Equatable {
        case needMore
        case done
        case invalid(RequestError)
    }

    enum State: Sendable {
        case size, sizeWhitespace, sizeExtension, sizeLF
        case data, dataCR, dataLF
        case trailerLineStart, trailerLine, trailerLF, finalLF
        case done
    }

    var state: State = .size
    var sawDigit = false
    /// Hex digits after leading zeros, which RFC 9112 allows in any number.
    var significantDigits = 0
    /// Bytes of the current chunk-size line: size, whitespace, extensions.
    var lineBytes = 0
    var chunkSize = 0
    var remaining = 0
    var decoded = 0
    var trailerBytes = 0

    /// Trailer sections larger than this are refused.
    static let maxTrailerBytes = 16384
    /// A chunk-size line (with its ignored extensions) longer than this is refused.
    static let maxLineBytes = 4096

    /// The whole raw body is buffered until it is complete, so the framing
    /// around the data is bounded too: past this, tiny chunks or long
    /// extensions would let a small body hold a lot of memory.
    static func maxFramingBytes(maxBodyBytes: Int) -> Int { maxBodyBytes + 65536 }

    public init() {}

    /// Decodes `buffer[rawOffset...]`, moving data to `buffer[bodyEnd...]`.
    ///
    /// Start with `rawOffset == bodyEnd ==` where the body begins. On `.done`,
    /// `rawOffset` is just past the final CRLF, where a pipelined request starts.
    public mutating func decode(_ buffer: UnsafeMutableRawBufferPointer, rawOffset: inout Int, bodyEnd: inout Int,
                                maxBodyBytes: Int) -> Progress {
        guard let base = buffer.baseAddress else { return .needMore }
        let p = base.assumingMemoryBound(to: UInt8.self)
        let n = buffer.count
        var i = rawOffset
        defer { rawOffset = i }
        while i < n {
            let c = p[i]
            if state == .size || state == .sizeWhitespace || state == .sizeExtension {
                lineBytes += 1
                if lineBytes > Self.maxLineBytes { return .invalid(.badRequest(.chunkLineTooLong)) }
            }
            switch state {
            case .size:
                if let v = Self.hexValue(c) {
                    sawDigit = true
                    if chunkSize != 0 || v != 0 { significantDigits += 1 }
                    if significantDigits > 15 { return .invalid(.badRequest(.invalidChunkSize)) }
                    chunkSize = chunkSize << 4 | v
                    i += 1
                } else if !sawDigit {
                    return .invalid(.badRequest(.invalidChunkSize))
                } else if c == 0x3B {
                    state = .sizeExtension; i += 1
                } else if c == 0x20 || c == 0x09 {
                    state = .sizeWhitespace; i += 1
                } else if c == 0x0D {
                    state = .sizeLF; i += 1
                } else {
                    return .invalid(.badRequest(c == 0x0A ? .bareLF : .invalidChunkSize))
                }
            case .sizeWhitespace:
                if c == 0x20 || c == 0x09 { i += 1 }
                else if c == 0x3B { state = .sizeExtension; i += 1 }
                else if c == 0x0D { state = .sizeLF; i += 1 }
                else { return .invalid(.badRequest(.invalidChunkSize)) }
            case .sizeExtension:
                // Extensions are ignored, but they may not hide a bare CR or LF.
                if c == 0x0D { state = .sizeLF }
                else if c == 0x0A { return .invalid(.badRequest(.bareLF)) }
                else if c < 0x20 && c != 0x09 || c == 0x7F { return .invalid(.badRequest(.invalidChunkFraming)) }
                i += 1
            case .sizeLF:
                if c != 0x0A { return .invalid(.badRequest(.bareCR)) }
                i += 1
                let rawSoFar = i - (bodyEnd - decoded)   // the body starts where decoded data started
                if rawSoFar - decoded > Self.maxFramingBytes(maxBodyBytes: maxBodyBytes) { return .invalid(.bodyTooLarge) }
                if chunkSize == 0 {
                    state = .trailerLineStart
                } else {
                    if decoded + chunkSize > maxBodyBytes { return .invalid(.bodyTooLarge) }
                    remaining = chunkSize
                    state = .data
                }
                chunkSize = 0; sawDigit = false; significantDigits = 0; lineBytes = 0
            case .data:
                let take = min(remaining, n - i)
                if bodyEnd != i { memmove(p + bodyEnd, p + i, take) }
                bodyEnd += take; i += take
                remaining -= take; decoded += take
                if remaining == 0 { state = .dataCR }
            case .dataCR:
                if c != 0x0D { return .invalid(.badRequest(c == 0x0A ? .bareLF : .invalidChunkFraming)) }
                state = .dataLF; i += 1
            case .dataLF:
                if c != 0x0A { return .invalid(.badRequest(.bareCR)) }
                state = .size; i += 1
            case .trailerLineStart:
                if c == 0x0D { state = .finalLF; i += 1; continue }
                if c == 0x0A { return .invalid(.badRequest(.bareLF)) }
                state = .trailerLine
            case .trailerLine:
                trailerBytes += 1
                if trailerBytes > Self.maxTrailerBytes { return .invalid(.headerTooLarge) }
                if c == 0x0D { state = .trailerLF }
                else if c == 0x0A { return .invalid(.badRequest(.bareLF)) }
                i += 1
            case .trailerLF:
                if c != 0x0A { return .invalid(.badRequest(.bareCR)) }
                state = .trailerLineStart; i += 1
            case .finalLF:
                if c != 0x0A { return .invalid(.badRequest(.bareCR)) }
                i += 1
                state = .done
                return .done
            case .done:
                return .done
            }
        }
        return state == .done ? .done : .needMore
    }

    @inline(__always) static func hexValue(_ c: UInt8) -> Int? {
        switch c {
        case 0x30...0x39: return Int(c - 0x30)
        case 0x41...0x46: return Int(c - 0x41 + 10)
        case 0x61...0x66: return Int(c - 0x61 + 10)
        default: return nil
        }
    }
}
