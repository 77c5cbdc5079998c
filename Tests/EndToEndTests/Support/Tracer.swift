import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `strace -f` of a switchyard command: one file per thread, descriptors
/// decorated with their paths, long strings kept, as `nobody` when we are root.
struct Tracer {
    let strace: String
    /// The user the traced program runs as (strace -u), nil when we are not root.
    let user: String?
    let uid: uid_t
    let gid: gid_t

    init() throws {
        guard let strace = E2E.which("strace") else { throw E2EError("strace is needed (apt: strace); scripts/test installs it") }
        self.strace = strace
        if geteuid() == 0, let entry = getpwnam("nobody") {
            user = "nobody"; uid = entry.pointee.pw_uid; gid = entry.pointee.pw_gid
        } else {
            user = nil; uid = geteuid(); gid = getegid()
        }
    }

    /// strace's arguments before the traced command. `keepPid`: strace -D, so the
    /// traced program keeps the launcher's pid (our child, signalled directly)
    /// and the tracer runs detached.
    func command(output: String, keepPid: Bool) -> [String] {
        var arguments = [strace]
        if keepPid { arguments.append("-D") }
        arguments += ["-ff", "-qq", "-y", "-s", "1024", "-o", output]
        if let user { arguments += ["-u", user] }
        return arguments
    }

    /// Runs `binary arguments` traced, to completion.
    func run(_ binary: String, _ arguments: [String], output: String) throws -> ProcessResult {
        let command = self.command(output: output, keepPid: false)
        return try runProcess(command[0], Array(command.dropFirst()) + [binary] + arguments, timeout: 60,
                              environment: E2E.childEnvironment(["SWIFT_BACKTRACE": "enable=no"]))
    }

    /// Makes `directory` the traced user's, as RuntimeDirectory= makes /run/switchyard the service's.
    func handOver(_ directory: URL) throws {
        guard user != nil else { return }
        guard chown(directory.path, uid, gid) == 0 else { throw E2EError("chown \(directory.path): \(String(cString: strerror(errno)))") }
    }

    /// Waits (bounded) until the detached tracer writing `output` has exited,
    /// so every trace file is complete.
    func waitForDetachedTracer(output: String) {
        _ = waitUntil(timeout: 20) {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            return !names.compactMap { Int32($0) }.contains { pid in
                guard let stat = ModeProc.stat(pid), !stat.isZombie, stat.comm == "strace" else { return false }
                return ModeProc.commandLine(pid).contains(output)
            }
        }
    }
}
