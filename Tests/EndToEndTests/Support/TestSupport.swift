import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failure in the harness itself (a daemon that did not start, a socket
/// that would not connect), reported with enough context to debug it.
struct E2EError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Paths and process-wide setup shared by every end-to-end test.
enum E2E {
    /// The package root, found from this file's path:
    /// `<root>/Tests/EndToEndTests/Support/TestSupport.swift`.
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()   // Support
        .deletingLastPathComponent()   // EndToEndTests
        .deletingLastPathComponent()   // Tests
        .deletingLastPathComponent()   // root

    /// `$SWITCHYARD_BIN`, else `<root>/.build/debug/switchyard`.
    static var binaryPath: String {
        if let path = ProcessInfo.processInfo.environment["SWITCHYARD_BIN"], !path.isEmpty { return path }
        return packageRoot.appendingPathComponent(".build/debug/switchyard").path
    }

    /// `$SWITCHYARD_RELEASE_BIN`, else `<root>/.build/release/switchyard`: the
    /// optimised build, for figures a debug build would distort.
    static var releaseBinaryPath: String {
        if let path = ProcessInfo.processInfo.environment["SWITCHYARD_RELEASE_BIN"], !path.isEmpty { return path }
        return packageRoot.appendingPathComponent(".build/release/switchyard").path
    }

    /// Done once per test process: SIGPIPE ignored (a server that closes while
    /// we write must give EPIPE, not kill the runner) and RLIMIT_NOFILE raised
    /// to the hard limit (the 1,000-connection test needs it; the daemons we
    /// spawn inherit it).
    static let processSetup: Void = {
        signal(SIGPIPE, SIG_IGN)
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
    }()

    static func currentFileLimit() -> UInt64 {
        var limit = rlimit()
        _ = getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        return UInt64(limit.rlim_cur)
    }

    /// A fresh directory under /tmp with a short name, so unix socket paths
    /// made inside it stay well under the 108-byte limit.
    static func makeTempDir() throws -> URL {
        let name = "sye2e-" + String(UUID().uuidString.prefix(8)).lowercased()
        let url = URL(fileURLWithPath: "/tmp").appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A short unix socket path that does not exist yet.
    static func uniqueSocketPath() -> String {
        "/tmp/sye2e-" + String(UUID().uuidString.prefix(8)).lowercased() + ".sock"
    }

    /// The first executable called `name` on `$PATH`.
    static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The environment for a child: ours without the systemd variables, so a
    /// daemon under test never talks to a real service manager.
    static func childEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
                    "LISTEN_FDNAMES", "SWITCHYARD_CONFIG"] {
            env.removeValue(forKey: key)
        }
        for (key, value) in extra { env[key] = value }
        return env
    }
}

/// Sleeps the calling thread.
func sleep(seconds: Double) {
    usleep(useconds_t(max(0, seconds) * 1_000_000))
}

/// Monotonic seconds, for deadlines.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// What a finished child process did.
struct ProcessResult {
    var status: Int32
    /// True when the process ran out of time and was killed.
    var timedOut: Bool
    var stdout: Data
    var stderr: Data
    var stdoutString: String { String(decoding: stdout, as: UTF8.self) }
    var stderrString: String { String(decoding: stderr, as: UTF8.self) }
    var output: String { stdoutString + stderrString }
}

/// Runs `executable` to completion (bounded by `timeout`, then SIGKILL), with
/// stdout and stderr captured to files so a chatty child never blocks on a pipe.
func runProcess(_ executable: String, _ arguments: [String], timeout: Double = 30,
                stdin: String? = nil, environment: [String: String]? = nil) throws -> ProcessResult {
    let dir = try E2E.makeTempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let outPath = dir.appendingPathComponent("stdout").path, errPath = dir.appendingPathComponent("stderr").path
    var inPath = "/dev/null"
    if let stdin {
        inPath = dir.appendingPathComponent("stdin").path
        try Data(stdin.utf8).write(to: URL(fileURLWithPath: inPath))
    }
    let child = try ChildProcess(executable, arguments, environment: environment ?? E2E.childEnvironment(),
                                 stdoutPath: outPath, stderrPath: errPath, stdinPath: inPath)
    let exit = child.waitOrKill(timeout: timeout)
    let status: Int32
    switch exit {
    case .exited(let s): status = s
    case .signaled(let s): status = 128 + s
    case .hung: status = -1
    }
    return ProcessResult(status: status, timedOut: exit == .hung,
                         stdout: (try? Data(contentsOf: URL(fileURLWithPath: outPath))) ?? Data(),
                         stderr: (try? Data(contentsOf: URL(fileURLWithPath: errPath))) ?? Data())
}

/// Runs curl with a hard time limit of its own as well as ours.
func curl(_ arguments: [String], timeout: Double = 30) throws -> ProcessResult {
    guard let curl = E2E.which("curl") else { throw E2EError("curl is not on PATH") }
    return try runProcess(curl, ["--max-time", "20"] + arguments, timeout: timeout)
}

extension Array where Element == UInt8 {
    /// The first index at or after `from` where `pattern` starts.
    func firstIndex(of pattern: [UInt8], from: Int = 0) -> Int? {
        guard !pattern.isEmpty, count >= pattern.count else { return nil }
        var i = Swift.max(0, from)
        while i <= count - pattern.count {
            if self[i] == pattern[0] {
                var j = 1
                while j < pattern.count, self[i + j] == pattern[j] { j += 1 }
                if j == pattern.count { return i }
            }
            i += 1
        }
        return nil
    }
}

/// Bytes shown for a failure message: printable ASCII as is, the rest escaped.
func visible(_ bytes: some Sequence<UInt8>, limit: Int = 600) -> String {
    var out = ""
    var n = 0
    for b in bytes {
        if n >= limit { out += "…"; break }
        switch b {
        case 0x0D: out += "\\r"
        case 0x0A: out += "\\n"
        case 0x20...0x7E: out.unicodeScalars.append(Unicode.Scalar(b))
        default: out += String(format: "\\x%02x", b)
        }
        n += 1
    }
    return out
}
