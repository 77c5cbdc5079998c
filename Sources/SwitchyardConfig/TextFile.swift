#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole config file as UTF-8, with errors worded for diagnostics.
enum TextFile {
    struct ReadError: Error {
        /// `no such file or directory`, `not valid utf-8`, …
        var reason: String
        /// Where in the file, when the problem is in its bytes (1-based, columns in bytes).
        var position: (line: Int, column: Int)? = nil
    }

    static func contents(of path: String) throws(ReadError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ReadError(reason: errnoText()) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ReadError(reason: errnoText())
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        // A byte-order mark (editors on Windows write one) is not content.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            let offset = firstInvalidUTF8(bytes)
            let line = bytes[..<offset].count { $0 == 0x0A } + 1
            let lineStart = bytes[..<offset].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
            throw ReadError(reason: "not valid utf-8", position: (line, offset - lineStart + 1))
        }
        return text
    }

    /// The offset of the first byte that does not start a valid UTF-8 sequence.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int {
        var parser = Unicode.UTF8.ForwardParser()
        var input = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &input) {
            case .valid(let encoded): offset += encoded.count
            case .error: return offset
            case .emptyInput: return offset
            }
        }
    }

    /// `strerror(errno)` with its first letter lowered, to suit our messages.
    static func errnoText() -> String {
        let text = String(cString: strerror(errno))
        guard let first = text.first else { return text }
        return first.lowercased() + text.dropFirst()
    }

    /// `path` with symbolic links and `.`/`..` resolved, or `path` itself
    /// if it cannot be (so one file reached two ways is read once).
    static func canonicalPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The directory part of `path`: `""` for a bare name, `/` for `/x`.
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }
}
