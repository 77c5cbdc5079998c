import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn(3) and reaped with waitpid on its
/// own pid only.
///
/// Not Foundation's `Process`: test threads (Dispatch and Swift Testing
/// workers) run with almost every signal blocked, and `Process` passes that
/// mask on, so a daemon it starts would never see SIGTERM. Here the child
/// starts with an empty signal mask, default dispositions for 1…31 (our
/// SIGPIPE ignore is not inherited), stdin from /dev/null, stdout and stderr
/// into files. (Our own sockets are all close-on-exec.)
final class ChildProcess {
    let pid: pid_t
    private var exit: Exit?

    /// How a child ended.
    enum Exit: Equatable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)
        /// Still running after the wait (and then killed).
        case hung
        var description: String {
            switch self {
            case .exited(let s): return "exit status \(s)"
            case .signaled(let s): return "killed by signal \(s)"
            case .hung: return "still running at the deadline (killed)"
            }
        }
    }

    /// `stderrFD`, when given, is the child's stderr instead of `stderrPath`
    /// (a pipe's write end, say).
    init(_ path: String, _ arguments: [String], environment: [String: String],
         stdoutPath: String, stderrPath: String, stdinPath: String = "/dev/null", stderrFD: Int32? = nil) throws {
        pid = try Self.spawn([path] + arguments, environment: environment) { actions in
            posix_spawn_file_actions_addopen(&actions, 0, stdinPath, O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            if let stderrFD {
                posix_spawn_file_actions_adddup2(&actions, stderrFD, 2)
            } else if stderrPath == stdoutPath {
                posix_spawn_file_actions_adddup2(&actions, 1, 2)
            } else {
                posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            }
        }
    }

    /// Starts `argv` with an empty signal mask and default dispositions,
    /// its descriptors set up by `files`; returns its pid.
    static func spawn(_ argv: [String], environment: [String: String],
                      files: (inout posix_spawn_file_actions_t) -> Void) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        files(&actions)

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attr, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in Int32(1)...31 where sig != SIGKILL && sig != SIGSTOP { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let cArgv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let cEnv: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in cArgv { free(p) }; for p in cEnv { free(p) } }

        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attr, cArgv, cEnv)
        guard rc == 0 else { throw E2EError("posix_spawn \(argv[0]): \(String(cString: strerror(rc)))") }
        return pid
    }

    deinit {
        if poll() == nil {
            Glibc.kill(pid, SIGKILL)
            _ = wait(timeout: 5)
        }
    }

    /// The exit, if the child has ended (reaps it).
    func poll() -> Exit? {
        if let exit { return exit }
        var status: Int32 = 0
        let rc = waitpid(pid, &status, WNOHANG)
        guard rc == pid else { return nil }
        let low = status & 0x7f
        exit = low == 0 ? .exited((status >> 8) & 0xff) : .signaled(low)
        return exit
    }

    var isRunning: Bool { poll() == nil }

    func kill(_ signal: Int32) { if isRunning { _ = Glibc.kill(pid, signal) } }

    /// Waits up to `timeout` for the child to end; `nil` if it has not.
    func wait(timeout: Double) -> Exit? {
        let deadline = now() + timeout
        while true {
            if let exit = poll() { return exit }
            if now() >= deadline { return nil }
            sleep(seconds: 0.01)
        }
    }

    /// Waits up to `timeout`; if still running, SIGKILLs it and returns `.hung`.
    func waitOrKill(timeout: Double) -> Exit {
        if let exit = wait(timeout: timeout) { return exit }
        Glibc.kill(pid, SIGKILL)
        _ = wait(timeout: 5)
        return .hung
    }
}
