#if canImport(Glibc)
import Glibc
#endif

/// Decodes a chunked request body (RFC 9112 §7.1) in place and in steps.
///
/// Data bytes are moved down over the framing inside the same buffer, so a
/// body that arrived whole is decoded without a copy elsewhere. The decoder
/// keeps its state between calls; the connection stores it while it waits
/// for more bytes. Chunk extensions and trailer fields are checked against
/// RFC 9112's grammar, as strictly as header fields, and dropped.
public struct ChunkedDecoder: Sendable {
    public enum Progress: Sendable, Equatable {
        case needMore
        case done
        case invalid(RequestError)
    }

    /// The chunk-size line's states come first, so "still on the line" is one
    /// comparison (`< .sizeLF`).
    enum State: UInt8, Sendable {
        // chunk-size [ chunk-ext ] CRLF, with (RFC 9112 §7.1.1)
        //   chunk-ext     = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
        //   chunk-ext-val = token / quoted-string
        case size
        /// BWS after the size: only a ';' may follow it.
        case sizeWhitespace
        /// After ';', BWS, before the name.
        case extNameStart
        /// Inside a name (a token).
        case extName
        /// BWS after a name: '=' or ';' may follow.
        case extAfterName
        /// After '=', BWS, before the value.
        case extValueStart
        /// Inside a token value.
        case extToken
        /// Inside a quoted-string value, and just after a '\' in one.
        case extQuoted, extQuotedPair
        /// Just after a quoted-string's closing DQUOTE.
        case extQuoteClosed
        /// BWS after a value: only a ';' may follow it.
        case extAfterValue
        case sizeLF
        case data, dataCR, dataLF
        // trailer-section = *( field-line CRLF ), field-line = field-name ":" OWS field-value OWS
        case trailerLineStart, trailerName, trailerValue, trailerLF, finalLF
        case done
    }

    /// A chunk extension that breaks the grammar.
    static let badExtension = RequestError.badRequest(.invalidChunkExtension)

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
            if state.rawValue < State.sizeLF.rawValue {
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
                } else if c == 0x0D {
                    state = .sizeLF; i += 1
                } else if c == 0x3B {
                    state = .extNameStart; i += 1
                } else if c == 0x20 || c == 0x09 {
                    state = .sizeWhitespace; i += 1
                } else {
                    return .invalid(.badRequest(c == 0x0A ? .bareLF : .invalidChunkSize))
                }

            // Chunk extensions: checked against the grammar, then ignored.
            // Whitespace is allowed only around ';' and '=' (BWS), never
            // before the CRLF; a CR is the line's end only where the grammar
            // lets the line end, so none can hide in a name or a value.
            case .sizeWhitespace:
                if c == 0x20 || c == 0x09 { i += 1 }
                else if c == 0x3B { state = .extNameStart; i += 1 }
                else if Self.hexValue(c) != nil { return .invalid(.badRequest(.invalidChunkSize)) }
                else { return Self.refuseInExtension(c) }
            case .extNameStart:
                if Self.isToken(c) { state = .extName }
                else if c == 0x20 || c == 0x09 {}
                else { return Self.refuseInExtension(c) }   // an empty name
                i += 1
            case .extName:
                if Self.isToken(c) {}
                else if c == 0x3D { state = .extValueStart }
                else if c == 0x3B { state = .extNameStart }
                else if c == 0x0D { state = .sizeLF }
                else if c == 0x20 || c == 0x09 { state = .extAfterName }
                else { return Self.refuseInExtension(c) }
                i += 1
            case .extAfterName:
                if c == 0x20 || c == 0x09 {}
                else if c == 0x3D { state = .extValueStart }
                else if c == 0x3B { state = .extNameStart }
                else { return Self.refuseInExtension(c) }   // a second word, or whitespace before CRLF
                i += 1
            case .extValueStart:
                if Self.isToken(c) { state = .extToken }
                else if c == 0x22 { state = .extQuoted }
                else if c == 0x20 || c == 0x09 {}
                else { return Self.refuseInExtension(c) }   // '=' without a value
                i += 1
            case .extToken:
                if Self.isToken(c) {}
                else if c == 0x3B { state = .extNameStart }
                else if c == 0x0D { state = .sizeLF }
                else if c == 0x20 || c == 0x09 { state = .extAfterValue }
                else { return Self.refuseInExtension(c) }
                i += 1
            case .extQuoted:
                // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
                if c == 0x22 { state = .extQuoteClosed }
                else if c == 0x5C { state = .extQuotedPair }
                else if CharacterClass.table[Int(c)] & CharacterClass.fieldValue == 0 {
                    return Self.refuseInExtension(c)   // a control byte, or the line ends unbalanced
                }
                i += 1
            case .extQuotedPair:
                // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
                if CharacterClass.table[Int(c)] & CharacterClass.fieldValue == 0 { return Self.refuseInExtension(c) }
                state = .extQuoted; i += 1
            case .extQuoteClosed:
                if c == 0x3B { state = .extNameStart }
                else if c == 0x0D { state = .sizeLF }
                else if c == 0x20 || c == 0x09 { state = .extAfterValue }
                else { return Self.refuseInExtension(c) }   // text glued to the closing quote
                i += 1
            case .extAfterValue:
                if c == 0x20 || c == 0x09 {}
                else if c == 0x3B { state = .extNameStart }
                else { return Self.refuseInExtension(c) }   // a second word, or whitespace before CRLF
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
                if c == 0x20 || c == 0x09 { return .invalid(.badRequest(.obsoleteLineFolding)) }
                if !Self.isToken(c) { return .invalid(.badRequest(.invalidHeaderName)) }
                state = .trailerName
            case .trailerName:
                trailerBytes += 1
                if trailerBytes > Self.maxTrailerBytes { return .invalid(.headerTooLarge) }
                if c == 0x3A {
                    state = .trailerValue
                } else if !Self.isToken(c) {
                    return .invalid(.badRequest(c == 0x20 || c == 0x09 ? .whitespaceBeforeColon
                                                : c == 0x0A ? .bareLF : .invalidHeaderName))
                }
                i += 1
            case .trailerValue:
                trailerBytes += 1
                if trailerBytes > Self.maxTrailerBytes { return .invalid(.headerTooLarge) }
                if c == 0x0D {
                    state = .trailerLF
                } else if CharacterClass.table[Int(c)] & CharacterClass.fieldValue == 0 {
                    return .invalid(.badRequest(c == 0x0A ? .bareLF : .invalidHeaderValue))
                }
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

    @inline(__always) static func isToken(_ c: UInt8) -> Bool {
        CharacterClass.table[Int(c)] & CharacterClass.tchar != 0
    }

    /// A byte the extension grammar has no place for: a bare LF says so, the
    /// rest (CR where the line may not end, controls, stray separators) break
    /// the extension.
    static func refuseInExtension(_ c: UInt8) -> Progress {
        .invalid(c == 0x0A ? .badRequest(.bareLF) : badExtension)
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
