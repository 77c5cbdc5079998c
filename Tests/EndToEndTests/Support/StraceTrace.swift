import Foundation

/// One system call from a trace written by `strace -ff -y -s 1024`: one file per
/// thread, descriptors shown with what they are (`3</etc/passwd>`, `AT_FDCWD</cwd>`).
struct TracedCall {
    /// The thread (file suffix) that made it.
    var tid: Int32
    var name: String
    /// Everything between the call's `(` and its `) = `.
    var arguments: Substring
    /// After ` = `: `0`, `3</path>`, `-1 ENOENT (…)`, `?`; empty when the call never returned.
    var result: Substring
    var line: String

    var succeeded: Bool { !result.isEmpty && !result.hasPrefix("-1") && !result.hasPrefix("?") }

    /// The quoted strings among the arguments, each with the descriptor
    /// decoration seen last before it (`AT_FDCWD</cwd>` or `5</dir>`), so a
    /// relative path can be made absolute.
    var quotedArguments: [(text: String, directory: String?)] {
        var found: [(String, String?)] = []
        var directory: String?
        var i = arguments.startIndex
        while i < arguments.endIndex {
            let c = arguments[i]
            if c == "<" {
                // A descriptor's decoration: `N<…>` or `AT_FDCWD<…>`; nested `<` do not occur in paths we care about.
                guard let close = arguments[i...].firstIndex(of: ">") else { break }
                directory = String(arguments[arguments.index(after: i)..<close])
                i = arguments.index(after: close)
                continue
            }
            if c == "\"" {
                var text = ""
                var j = arguments.index(after: i)
                while j < arguments.endIndex, arguments[j] != "\"" {
                    if arguments[j] == "\\", arguments.index(after: j) < arguments.endIndex {
                        j = arguments.index(after: j)
                    }
                    text.append(arguments[j])
                    j = arguments.index(after: j)
                }
                found.append((text, directory))
                i = j < arguments.endIndex ? arguments.index(after: j) : j
                continue
            }
            i = arguments.index(after: i)
        }
        return found
    }

    /// The quoted path arguments made absolute (against their descriptor's path).
    var paths: [String] {
        quotedArguments.map { argument in
            if argument.text.hasPrefix("/") { return argument.text }
            guard let directory = argument.directory, directory.hasPrefix("/") else { return argument.text }
            return directory.hasSuffix("/") ? directory + argument.text : directory + "/" + argument.text
        }
    }

    /// The decoration of a returned descriptor (`3</usr/lib/x.so>`): the opened file, symlinks resolved.
    var resultPath: String? {
        guard succeeded, let open = result.firstIndex(of: "<"), let close = result.lastIndex(of: ">"), open < close else { return nil }
        return String(result[result.index(after: open)..<close])
    }

    /// The decoration of the first argument (`fchmod(3</path>, …)`).
    var firstArgumentPath: String? {
        let first = arguments.prefix { $0 != "," }
        guard let open = first.firstIndex(of: "<"), let close = first.lastIndex(of: ">"), open < close else { return nil }
        return String(first[first.index(after: open)..<close])
    }

    /// The first argument as written (`AF_INET`, `12345`, `0xffffffff`).
    var firstArgument: Substring {
        let first = arguments.prefix { $0 != "," }
        return first.prefix { $0 != "<" }.trimmingCharacters(in: .whitespaces)[...]
    }

    /// `sun_path="…"` of a sockaddr argument; nil for none or an abstract address.
    var unixSocketPath: String? {
        guard let range = arguments.range(of: "sun_path=\"") else { return nil }
        return String(arguments[range.upperBound...].prefix { $0 != "\"" })
    }
}

/// Every file of one `strace -ff -o PREFIX` run.
struct StraceTrace {
    /// Calls by thread, each thread's in order.
    let calls: [Int32: [TracedCall]]

    /// Every traced thread id: the daemon's, its threads', its workers'.
    var tids: Set<Int32> { Set(calls.keys) }

    var allCalls: [TracedCall] { calls.keys.sorted().flatMap { calls[$0]! } }

    /// Reads `PREFIX.<tid>` files. The traced program's own thread (`root`)
    /// starts at its first execve; what strace itself did before (switching
    /// user) is not the program's.
    init(directory: URL, prefix: String, root: Int32? = nil) throws {
        var calls: [Int32: [TracedCall]] = [:]
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        for name in names where name.hasPrefix(prefix + ".") {
            guard let tid = Int32(name.dropFirst(prefix.count + 1)) else { continue }
            let text = try String(contentsOfFile: directory.appendingPathComponent(name).path, encoding: .utf8)
            var list: [TracedCall] = []
            var started = root != tid
            for line in text.split(separator: "\n") {
                guard let call = StraceTrace.parse(line, tid: tid) else { continue }
                if !started {
                    guard call.name == "execve" else { continue }
                    started = true
                }
                list.append(call)
            }
            calls[tid] = list
        }
        self.calls = calls
    }

    /// A trace from text, one entry per thread (for testing the audit itself).
    init(threads: [Int32: String]) {
        var byThread: [Int32: [TracedCall]] = [:]
        for (tid, text) in threads { byThread[tid] = text.split(separator: "\n").compactMap { StraceTrace.parse($0, tid: tid) } }
        self.calls = byThread
    }

    /// `name(arguments) = result`; nil for strace's own `---`/`+++` lines.
    static func parse(_ line: Substring, tid: Int32) -> TracedCall? {
        guard let open = line.firstIndex(of: "(") else { return nil }
        let name = line[..<open]
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
        let rest = line[line.index(after: open)...]
        var arguments = rest
        var result: Substring = ""
        if let separator = rest.range(of: ") = ", options: .backwards) {
            arguments = rest[..<separator.lowerBound]
            result = rest[separator.upperBound...]
        }
        return TracedCall(tid: tid, name: String(name), arguments: arguments, result: result, line: String(line))
    }
}
