import CZlib
import SwitchyardHTTP

/// zlib compression for responses, one per event loop (not thread-safe). Its
/// two streams (gzip and zlib-wrapped deflate) are reset between responses,
/// not re-created, so compressing allocates nothing once warm.
public final class Deflater {
    private let gzipStream: UnsafeMutablePointer<z_stream>
    private let deflateStream: UnsafeMutablePointer<z_stream>

    /// `level` is zlib's 1…9. Nil when zlib cannot get its memory.
    public init?(level: Int) {
        guard let gzip = Self.makeStream(level: level, windowBits: 15 + 16) else { return nil }   // +16: gzip wrapper (RFC 1952)
        guard let deflate = Self.makeStream(level: level, windowBits: 15) else {                 // zlib wrapper (RFC 1950), HTTP's "deflate"
            deflateEnd(gzip); gzip.deallocate()
            return nil
        }
        gzipStream = gzip
        deflateStream = deflate
    }

    private static func makeStream(level: Int, windowBits: Int32) -> UnsafeMutablePointer<z_stream>? {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard switchyard_deflateInit2(stream, Int32(level), windowBits, 8) == Z_OK else {
            stream.deallocate()
            return nil
        }
        return stream
    }

    deinit {
        deflateEnd(gzipStream); gzipStream.deallocate()
        deflateEnd(deflateStream); deflateStream.deallocate()
    }

    /// Appends `input` compressed whole in `coding` (gzip or deflate) to `output`.
    public func compress(_ input: UnsafeRawBufferPointer, coding: ContentCoding, into output: inout ByteBuffer) {
        precondition(coding != .identity)
        let stream = coding == .gzip ? gzipStream : deflateStream
        deflateReset(stream)
        let bound = Int(deflateBound(stream, uLong(input.count))) + 32
        output.reserve(bound)
        let out = output.writable
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        stream.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(out.count)
        let result = deflate(stream, Z_FINISH)
        precondition(result == Z_STREAM_END, "deflate did not finish within deflateBound: \(result)")
        output.didWrite(out.count - Int(stream.pointee.avail_out))
    }
}
