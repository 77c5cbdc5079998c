import Foundation

/// A systemd unit file read as systemd reads it: `[Section]` headers and
/// `Key=Value` lines, `#`/`;` comments, repeated keys kept in order (an empty
/// value is kept too: for list settings it resets what came before).
struct UnitFile {
    struct Entry {
        var section: String
        var key: String
        var value: String
        var line: Int
    }

    let path: String
    let entries: [Entry]

    init(path: String) throws {
        self.path = path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var section = ""
        var entries: [Entry] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast())
                continue
            }
            guard let equals = line.firstIndex(of: "=") else { continue }
            entries.append(Entry(section: section, key: line[..<equals].trimmingCharacters(in: .whitespaces),
                                 value: line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces),
                                 line: index + 1))
        }
        self.entries = entries
    }

    /// Every value of `key` in `[Service]`, in order.
    func values(_ key: String, section: String = "Service") -> [String] {
        entries.filter { $0.section == section && $0.key == key }.map(\.value)
    }

    /// The last value of `key` in `[Service]`.
    func value(_ key: String, section: String = "Service") -> String? { values(key, section: section).last }

    /// A boolean setting as systemd parses it (yes/true/on/1).
    func isOn(_ key: String) -> Bool {
        guard let value = value(key)?.lowercased() else { return false }
        return ["yes", "true", "on", "1"].contains(value)
    }
}

/// The system-call groups of the systemd on this machine, from
/// `systemd-analyze syscall-filter`, with nested groups expanded.
struct SyscallGroups {
    let groups: [String: [String]]

    init() throws {
        guard let analyze = E2E.which("systemd-analyze") else {
            throw E2EError("systemd-analyze is needed (apt: systemd); scripts/test installs it")
        }
        let result = try runProcess(analyze, ["syscall-filter", "--no-pager"], timeout: 30)
        guard result.status == 0 else { throw E2EError("systemd-analyze syscall-filter: exit \(result.status): \(result.output)") }
        var groups: [String: [String]] = [:]
        var current: String?
        for line in result.stdoutString.split(separator: "\n") {
            if line.hasPrefix("@") {
                current = line.trimmingCharacters(in: .whitespaces)
                groups[current!] = []
                continue
            }
            let item = line.trimmingCharacters(in: .whitespaces)
            guard let current, !item.isEmpty, !item.hasPrefix("#") else { continue }
            groups[current, default: []].append(item)
        }
        guard groups["@system-service"] != nil, groups["@default"] != nil else {
            throw E2EError("systemd-analyze syscall-filter listed no @system-service or @default group:\n\(result.output)")
        }
        self.groups = groups
    }

    /// The system calls `item` names: a call itself, or a group's calls, nested groups expanded.
    func expand(_ item: String) -> Set<String> {
        guard item.hasPrefix("@") else { return [item] }
        var calls = Set<String>()
        for member in groups[item] ?? [] { calls.formUnion(expand(member)) }
        return calls
    }
}

/// What a unit's sandbox lets its processes do, as far as a trace can tell:
/// the system calls its seccomp filters allow, the socket families it may
/// create, and which of the file-system and argument-level protections are on.
struct SandboxPolicy {
    /// Allowed system calls; nil when the unit sets no SystemCallFilter=.
    let allowedSyscalls: Set<String>?
    /// Where each allowed call came from, for messages: the unit's lines in order.
    let syscallFilterLines: [String]
    /// Socket families socket(2) may create; nil when unrestricted.
    let addressFamilies: Set<String>?
    let unit: UnitFile

    init(unit: UnitFile, groups: SyscallGroups) {
        self.unit = unit
        // SystemCallFilter=: the first non-empty line decides allow- or deny-list
        // mode; in allow-list mode @default is always allowed; later lines of the
        // same polarity add, of the other polarity remove; an empty value resets.
        let lines = unit.values("SystemCallFilter")
        syscallFilterLines = lines
        var allowList: Bool?
        var listed = Set<String>()
        for line in lines {
            if line.isEmpty { allowList = nil; listed = []; continue }
            let inverted = line.hasPrefix("~")
            let items = (inverted ? String(line.dropFirst()) : line).split(separator: " ").map(String.init)
            let calls = items.reduce(into: Set<String>()) { $0.formUnion(groups.expand($1)) }
            if allowList == nil {
                allowList = !inverted
                if !inverted { listed = groups.expand("@default") }
            }
            if inverted == !(allowList!) { listed.formUnion(calls) } else { listed.subtract(calls) }
        }
        // Settings that add deny filters of their own, whatever SystemCallFilter= says.
        var implied = Set<String>()
        if unit.isOn("ProtectClock") { implied.formUnion(groups.expand("@clock")) }
        if unit.isOn("PrivateDevices") { implied.formUnion(groups.expand("@raw-io")) }
        if unit.isOn("ProtectKernelModules") { implied.formUnion(groups.expand("@module")) }
        if unit.isOn("ProtectKernelLogs") { implied.insert("syslog") }
        if unit.isOn("ProtectHostname") { implied.formUnion(["sethostname", "setdomainname"]) }
        switch allowList {
        case true?: allowedSyscalls = listed.subtracting(implied)
        case false?:
            // A deny list: everything systemd knows of but what it names.
            let known = groups.groups.values.reduce(into: Set<String>()) { $0.formUnion($1.filter { !$0.hasPrefix("@") }) }
            allowedSyscalls = known.subtracting(listed).subtracting(implied)
        case nil: allowedSyscalls = nil
        }

        let families = unit.values("RestrictAddressFamilies").last { !$0.isEmpty }
        if let families, !families.hasPrefix("~"), families != "none" {
            addressFamilies = Set(families.split(separator: " ").map(String.init))
        } else if families == "none" {
            addressFamilies = []
        } else {
            addressFamilies = nil   // a deny list (~…) is not used by our unit; treat as unrestricted
        }
    }
}
