#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Expands an `include:` pattern with the C library's `glob()`.
enum IncludeGlob {
    /// `pattern` joined to `directory` unless it is absolute. The directory is
    /// a path, not a pattern: its `*?[\` are escaped so they match themselves.
    static func resolve(_ pattern: String, relativeTo directory: String?) -> String {
        guard let directory, !directory.isEmpty, !pattern.hasPrefix("/") else { return pattern }
        var escaped = ""
        for character in directory {
            if "*?[\\".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped.hasSuffix("/") ? escaped + pattern : escaped + "/" + pattern
    }

    /// The directory a resolved pattern looks in: its part before the first
    /// component with a glob character (unescaped), or `.`.
    static func directory(of pattern: String) -> String {
        var components: [String] = []
        for component in pattern.split(separator: "/", omittingEmptySubsequences: false).dropLast() {
            var escaped = false, globbing = false
            for character in component {
                if escaped { escaped = false; continue }
                if character == "\\" { escaped = true } else if "*?[".contains(character) { globbing = true; break }
            }
            if globbing { break }
            components.append(String(component).replacingEscapes())
        }
        if components.isEmpty { return "." }
        let joined = components.joined(separator: "/")
        return joined.isEmpty ? "/" : joined
    }

    /// Whether `pattern` names one file rather than matching several: an
    /// operator expects such an include to exist, as nginx does.
    static func isLiteral(_ pattern: String) -> Bool {
        !pattern.contains { "*?[".contains($0) }
    }

    /// The files matching `pattern`, sorted; directories are skipped. A
    /// pattern that matches nothing gives an empty list, not an error.
    static func expand(_ pattern: String) throws(ValueError) -> [String] {
        var matches = glob_t()
        defer { globfree(&matches) }
        let status = glob(pattern, GLOB_MARK, nil, &matches)
        switch status {
        case 0: break
        case GLOB_NOMATCH: return []
        case GLOB_ABORTED: throw ValueError("cannot read the directories of include '\(pattern)'")
        default: throw ValueError("cannot expand include '\(pattern)' (glob error \(status))")
        }
        var paths: [String] = []
        for i in 0..<Int(matches.gl_pathc) {
            guard let cString = matches.gl_pathv[i] else { continue }
            let path = String(cString: cString)
            if !path.hasSuffix("/") { paths.append(path) }
        }
        return paths
    }
}

private extension String {
    /// `\\x` read as `x`, as glob() reads an escaped path.
    func replacingEscapes() -> String {
        var out = "", escaped = false
        for character in self {
            if !escaped, character == "\\" { escaped = true; continue }
            escaped = false
            out.append(character)
        }
        return out
    }
}
