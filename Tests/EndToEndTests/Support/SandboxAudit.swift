import Foundation

/// Judges a trace against a unit's sandbox: every call the processes made,
/// with the arguments that systemd's protections look at. A finding is
/// something the real unit would have refused (and so the daemon would have
/// failed or been killed with SIGSYS), named with the directive and the line.
///
/// File-system findings count only calls that succeeded here: a lookup that
/// failed without the sandbox fails the same way within it.
struct SandboxAudit {
    struct Finding: CustomStringConvertible {
        var directive: String
        var what: String
        var line: String
        var description: String { "\(directive): \(what)\n    \(line.prefix(300))" }
    }

    let policy: SandboxPolicy
    /// Where the process may write: the runtime directory (here the test's own).
    let writableDirectories: [String]
    /// Programs it may execute: its own binary (by path or /proc/self/exe).
    let executables: Set<String>

    /// Calls that take a path as their first quoted argument.
    static let pathCalls: Set<String> = [
        "open", "openat", "openat2", "creat", "stat", "lstat", "newfstatat", "statx", "access", "faccessat",
        "faccessat2", "readlink", "readlinkat", "execve", "execveat", "chdir", "inotify_add_watch", "statfs",
        "getxattr", "lgetxattr", "listxattr", "llistxattr", "truncate", "utimensat", "utimes", "utime",
        "futimesat", "name_to_handle_at", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat",
        "renameat2", "link", "linkat", "symlink", "symlinkat", "mknod", "mknodat", "chmod", "fchmodat", "chown",
        "lchown", "fchownat", "setxattr", "lsetxattr", "removexattr", "lremovexattr", "uselib", "swapon", "acct",
    ]
    /// Calls that change the file system at every path they name.
    static let modifyingCalls: Set<String> = [
        "creat", "truncate", "utimensat", "utimes", "utime", "futimesat", "mkdir", "mkdirat", "rmdir", "unlink",
        "unlinkat", "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "mknod", "mknodat",
        "chmod", "fchmodat", "chown", "lchown", "fchownat", "setxattr", "lsetxattr", "removexattr", "lremovexattr",
    ]
    /// What PrivateDevices= leaves in /dev.
    static let privateDevices = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
                                 "/dev/ptmx", "/dev/pts/", "/dev/shm/", "/dev/mqueue/", "/dev/hugepages/", "/dev/log",
                                 "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/fd/"]

    func audit(_ trace: StraceTrace) -> [Finding] {
        var findings: [Finding] = []
        let own = trace.tids
        let unit = policy.unit
        func add(_ directive: String, _ what: String, _ call: TracedCall) {
            findings.append(Finding(directive: directive, what: what, line: call.line))
        }

        for call in trace.allCalls {
            // SystemCallFilter= (and the filters other settings add): the process
            // is killed with SIGSYS at the first call outside the set.
            if let allowed = policy.allowedSyscalls, !allowed.contains(call.name) {
                add("SystemCallFilter=\(policy.syscallFilterLines.joined(separator: " | "))", "\(call.name) is not allowed", call)
            }

            switch call.name {
            case "socket":
                if let families = policy.addressFamilies, !families.contains(String(call.firstArgument)) {
                    add("RestrictAddressFamilies=\(families.sorted().joined(separator: " "))", "socket(\(call.firstArgument))", call)
                }
            case "clone", "clone3", "unshare":
                if unit.value("RestrictNamespaces").map({ $0 != "no" && $0 != "false" }) ?? false, call.arguments.contains("CLONE_NEW") {
                    add("RestrictNamespaces=\(unit.value("RestrictNamespaces")!)", "\(call.name) creates a namespace", call)
                }
            case "setns":
                if unit.value("RestrictNamespaces").map({ $0 != "no" && $0 != "false" }) ?? false {
                    add("RestrictNamespaces=\(unit.value("RestrictNamespaces")!)", "setns joins a namespace", call)
                }
            case "sched_setscheduler", "sched_setattr", "sched_setparam":
                if unit.isOn("RestrictRealtime"),
                   ["SCHED_FIFO", "SCHED_RR", "SCHED_DEADLINE"].contains(where: { call.arguments.contains($0) }) {
                    add("RestrictRealtime=yes", "a realtime scheduling policy", call)
                }
            case "personality":
                if unit.isOn("LockPersonality"), call.firstArgument != "0xffffffff" {
                    add("LockPersonality=yes", "personality changed to \(call.firstArgument)", call)
                }
            case "mmap", "mmap2":
                if unit.isOn("MemoryDenyWriteExecute"), call.arguments.contains("PROT_WRITE"), call.arguments.contains("PROT_EXEC") {
                    add("MemoryDenyWriteExecute=yes", "a writable and executable mapping", call)
                }
            case "mprotect", "pkey_mprotect":
                if unit.isOn("MemoryDenyWriteExecute"), call.arguments.contains("PROT_EXEC") {
                    add("MemoryDenyWriteExecute=yes", "memory made executable", call)
                }
            case "shmat":
                if unit.isOn("MemoryDenyWriteExecute"), call.arguments.contains("SHM_EXEC") {
                    add("MemoryDenyWriteExecute=yes", "executable shared memory", call)
                }
            case "kill", "tgkill", "tkill", "pidfd_open", "process_vm_readv", "process_vm_writev", "ptrace":
                // Signals and process handles only for the daemon's own processes
                // (a transient user may not signal anyone else's; ProtectProc hides them).
                let target = call.name == "ptrace" ? nil : Int32(call.firstArgument)
                if call.name == "ptrace" || target.map({ $0 <= 0 || !own.contains($0) }) == true {
                    add("DynamicUser=yes / ProtectProc=invisible", "\(call.name) on a process that is not the daemon's", call)
                }
            default: break
            }

            if call.name.hasPrefix("fchmod") || call.name == "chmod" || ((call.name == "open" || call.name == "openat") && call.arguments.contains("O_CREAT")) {
                if unit.isOn("RestrictSUIDSGID"), SandboxAudit.setsSetID(call) {
                    add("RestrictSUIDSGID=yes", "a set-user-ID or set-group-ID mode", call)
                }
            }

            // Files written: ProtectSystem=strict leaves only the runtime directory (and
            // the API file systems' writable spots) writable.
            for path in writtenPaths(call) where !mayWrite(path, own: own) {
                add("ProtectSystem=\(unit.value("ProtectSystem") ?? "no")", "writes \(path)", call)
            }

            // Paths looked at (successful calls only).
            for path in accessedPaths(call) {
                if unit.value("ProtectHome").map({ $0 != "no" && $0 != "false" && $0 != "read-only" }) ?? false,
                   ["/home/", "/root/", "/run/user/"].contains(where: { path.hasPrefix($0) || path + "/" == $0 }) {
                    add("ProtectHome=\(unit.value("ProtectHome")!)", "reads \(path)", call)
                }
                if path.hasPrefix("/proc/") {
                    let entry = path.dropFirst("/proc/".count).prefix { $0 != "/" }
                    if let pid = Int32(entry) {
                        if unit.value("ProtectProc") == "invisible" || unit.value("ProtectProc") == "noaccess", !own.contains(pid) {
                            add("ProtectProc=\(unit.value("ProtectProc")!)", "reads another process's \(path)", call)
                        }
                    } else if unit.value("ProcSubset") == "pid", entry != "self", entry != "thread-self", !entry.isEmpty {
                        add("ProcSubset=pid", "reads \(path), which is not a process's", call)
                    }
                }
                if unit.isOn("PrivateDevices"), path.hasPrefix("/dev/"),
                   !SandboxAudit.privateDevices.contains(where: { path == $0 || path.hasPrefix($0) }) {
                    add("PrivateDevices=yes", "opens the device \(path)", call)
                }
                if (unit.isOn("ProtectKernelLogs") && (path == "/dev/kmsg" || path == "/proc/kmsg")) {
                    add("ProtectKernelLogs=yes", "opens \(path)", call)
                }
            }

            // NoNewPrivileges=, and nothing but the daemon's own binary runs.
            if call.name == "execve" || call.name == "execveat", let program = call.paths.first, !executables.contains(program) {
                add("NoNewPrivileges=yes (only switchyard runs)", "executes \(program)", call)
            }
        }
        return findings
    }

    /// Paths a call changed or opened for writing (successful calls only).
    func writtenPaths(_ call: TracedCall) -> [String] {
        guard call.succeeded else { return [] }
        switch call.name {
        case "open", "openat", "openat2", "creat":
            let writes = call.name == "creat" || ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC"].contains { call.arguments.contains($0) }
            guard writes else { return [] }
            return [call.resultPath ?? call.paths.first ?? "?"]
        case "bind":
            return call.unixSocketPath.map { [$0.hasPrefix("/") ? $0 : "(relative) \($0)"] } ?? []
        case "fchmod", "fchown", "ftruncate", "fsetxattr", "fremovexattr":
            guard let path = call.firstArgumentPath, path.hasPrefix("/"), !path.hasPrefix("/memfd:") else { return [] }
            return [path]
        case _ where SandboxAudit.modifyingCalls.contains(call.name):
            switch call.name {
            case "symlink", "symlinkat": return Array(call.paths.suffix(1))
            case "rename", "renameat", "renameat2", "link", "linkat": return call.paths
            case "utimensat" where call.paths.isEmpty: return call.firstArgumentPath.map { [$0] } ?? []
            default: return Array(call.paths.prefix(1))
            }
        default:
            return []
        }
    }

    /// Paths a successful path call reached: what was opened, else what was asked for.
    func accessedPaths(_ call: TracedCall) -> [String] {
        guard call.succeeded, SandboxAudit.pathCalls.contains(call.name) else { return [] }
        var paths = Array(call.paths.prefix(call.name.hasPrefix("rename") || call.name.hasPrefix("link") ? 2 : 1))
        if let opened = call.resultPath, opened.hasPrefix("/") { paths.append(opened) }
        return paths
    }

    func mayWrite(_ path: String, own: Set<Int32>) -> Bool {
        if writableDirectories.contains(where: { path.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }) { return true }
        if SandboxAudit.privateDevices.contains(where: { path == $0 || path.hasPrefix($0) }) { return true }
        // The process's own /proc entries (thread names, say).
        if path.hasPrefix("/proc/self/") || path.hasPrefix("/proc/thread-self/") { return true }
        if path.hasPrefix("/proc/"), let pid = Int32(path.dropFirst(6).prefix { $0 != "/" }), own.contains(pid) {
            return !path.dropFirst(6).drop { $0 != "/" }.isEmpty
        }
        return false
    }

    /// True when a mode argument (octal) has S_ISUID or S_ISGID.
    static func setsSetID(_ call: TracedCall) -> Bool {
        for token in call.arguments.split(whereSeparator: { $0 == "," || $0 == " " || $0 == ")" }) {
            guard token.hasPrefix("0"), token.count >= 4, token.allSatisfy({ ("0"..."7").contains($0) }),
                  let mode = Int(token, radix: 8) else { continue }
            if mode & 0o6000 != 0 { return true }
        }
        return false
    }
}
