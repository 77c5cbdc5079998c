import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `access_log: stderr` when stderr is a pipe (a container runtime, a shell
/// pipeline): lines from several loops stay whole, however long the target,
/// and a reader that stops for a while loses what the daemon can hold and is
/// told how many lines it lost past that.
@Suite("Access log on a pipe")
struct AccessLogPipeTests {
    /// A daemon whose stderr is the write end of a pipe the test reads.
    final class PipedDaemon {
        let process: ChildProcess
        let dir: URL
        private let readFD: Int32
        private(set) var text = ""
        private(set) var port = 0

        /// `nonBlocking`: the write end is O_NONBLOCK (set by whoever made
        /// the pipe, as some runtimes do), so a full pipe is EAGAIN, not a wait.
        init(eventLoops: Int, nonBlocking: Bool, pipeBytes: Int32? = nil) throws {
            dir = try E2E.makeTempDir()
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else { throw E2EError("pipe: \(String(cString: strerror(errno)))") }
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            readFD = fds[0]
            _ = fcntl(readFD, F_SETFL, O_NONBLOCK)
            if nonBlocking { _ = fcntl(fds[1], F_SETFL, O_NONBLOCK) }
            if let pipeBytes { _ = fcntl(fds[1], 1031 /* F_SETPIPE_SZ, which Glibc's module leaves out */, pipeBytes) }
            let config = DaemonConfig(eventLoops: eventLoops, routes: [
                #"{ path: /hello, handler: builtin.text, mode: sync, options: { body: "hello\n" } }"#,
            ], extra: "access_log: stderr\n")
            let configPath = dir.appendingPathComponent("switchyard.yaml").path
            try config.yaml(controlPath: dir.appendingPathComponent("control.sock").path)
                .write(toFile: configPath, atomically: true, encoding: .utf8)
            _ = E2E.processSetup
            process = try ChildProcess(E2E.binaryPath, ["serve", "--config", configPath],
                                       environment: E2E.childEnvironment(["RUNTIME_DIRECTORY": dir.path]),
                                       stdoutPath: "/dev/null", stderrPath: "/dev/null", stderrFD: fds[1])
            close(fds[1])
            guard readUntil(timeout: 20, { Daemon.listeningAddresses(in: $0).count == 1 }),
                  let address = Daemon.listeningAddresses(in: text).first,
                  let port = Int(address.split(separator: ":").last ?? "") else {
                throw E2EError("the daemon did not log its address; stderr:\n\(text)")
            }
            self.port = port
        }

        deinit {
            process.kill(SIGKILL)
            _ = process.wait(timeout: 5)
            close(readFD)
            try? FileManager.default.removeItem(at: dir)
        }

        /// Reads what the pipe holds now.
        func drain() {
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = read(readFD, &chunk, chunk.count)
                if n <= 0 { return }
                text += String(decoding: chunk[0..<n], as: UTF8.self)
            }
        }

        /// Reads until `done(text)` or the timeout; `poke` runs between reads.
        @discardableResult
        func readUntil(timeout: Double, poke: () -> Void = {}, _ done: (String) -> Bool) -> Bool {
            let deadline = now() + timeout
            while true {
                drain()
                if done(text) { return true }
                if now() > deadline { return false }
                poke()
                sleep(seconds: 0.05)
            }
        }
    }

    static func get(_ target: String) -> String { "GET \(target) HTTP/1.1\r\nHost: pipe\r\n\r\n" }

    /// Guards lines against tearing: with four loops writing to one pipe at
    /// once, a line longer than PIPE_BUF would be split into two writes and
    /// another loop's line could land between them. Targets of 6,000 bytes
    /// are cut at 2,048 (ending in `...`), so every line is one atomic write.
    @Test("four loops, 6,000-byte targets: every line whole, under PIPE_BUF, one per request", .timeLimit(.minutes(2)))
    func longTargetsStayWhole() throws {
        let daemon = try PipedDaemon(eventLoops: 4, nonBlocking: false, pipeBytes: 1 << 20)
        let port = daemon.port
        let pad = String(repeating: "a", count: 6000)
        final class Failures: Sendable { let list = Mutex<[String]>([]) }
        let failures = Failures()
        let jobs = (0..<8).map { t in
            Lifecycle.Job("pipe-log-\(t)") {
                do {
                    let client = try RawClient(port: port)
                    for n in 0..<25 {
                        try client.send(Self.get("/hello?t=\(t)&n=\(n)&pad=\(pad)"))
                        _ = try client.readResponse()
                    }
                } catch {
                    failures.list.withLock { $0.append("\(error)") }
                }
            }
        }
        for job in jobs { #expect(job.join(timeout: 60)) }
        #expect(failures.list.withLock { $0 }.isEmpty, "\(failures.list.withLock { $0 })")
        daemon.readUntil(timeout: 10) { AccessLogTests.parse($0).lines.count >= 200 }
        sleep(seconds: 0.3)
        daemon.drain()
        let rows = daemon.text.split(separator: "\n").filter { $0.contains("target=") }
        let (lines, malformed) = AccessLogTests.parse(daemon.text)
        #expect(malformed.isEmpty, "torn or mixed lines: \(malformed.prefix(2).map { $0.prefix(300) })")
        #expect(rows.count == 200 && lines.count == 200, "\(rows.count) rows, \(lines.count) whole lines")
        #expect(rows.allSatisfy { $0.utf8.count < Int(PIPE_BUF) }, "a line of \(rows.map(\.utf8.count).max() ?? 0) bytes")
        #expect(lines.allSatisfy { $0.target.utf8.count == 2048 && $0.target.hasSuffix("...") },
                "targets: \(Set(lines.map { $0.target.utf8.count }))")
        let logged = Set(lines.map { $0.target.split(separator: "&").prefix(2).joined(separator: "&") })
        #expect(logged == Set((0..<8).flatMap { t in (0..<25).map { "/hello?t=\(t)&n=\($0)" } }))
    }

    /// Guards a reader that stops: on a non-blocking pipe that fills, lines
    /// wait in the loop's buffer (up to 1 MiB) and go out once the reader
    /// reads again, in order, none lost.
    @Test("a reader that pauses: 2,000 lines held while the pipe is full, then all of them in order", .timeLimit(.minutes(2)))
    func pausedReaderLosesNothing() throws {
        let daemon = try PipedDaemon(eventLoops: 1, nonBlocking: true)
        let client = try RawClient(port: daemon.port)
        for n in 0..<2000 {   // ~300 KB of lines into a 64 KiB pipe nobody reads
            try client.send(Self.get("/hello?n=\(n)"))
            _ = try client.readResponse()
        }
        var poke = 2000
        let done = daemon.readUntil(timeout: 20, poke: {
            // A request makes the loop turn, and each turn writes what it holds.
            try? client.send(Self.get("/hello?poke=\(poke)")); _ = try? client.readResponse(); poke += 1
        }) { text in AccessLogTests.parse(text).lines.contains { $0.target == "/hello?n=1999" } }
        #expect(done, "the last line never came")
        let targets = AccessLogTests.parse(daemon.text).lines.map(\.target).filter { $0.hasPrefix("/hello?n=") }
        #expect(targets == (0..<2000).map { "/hello?n=\($0)" }, "\(targets.count) of 2000 lines, first missing: \(Set((0..<2000).map { "/hello?n=\($0)" }).subtracting(targets).sorted().first ?? "-")")
        #expect(!daemon.text.contains("dropped"), "\(daemon.text.split(separator: "\n").filter { $0.contains("dropped") })")
    }

    /// Guards the bound on what is held: past 1 MiB the held lines are
    /// dropped, and once the pipe takes lines again the daemon says how many
    /// it dropped; those and the lines that arrived add up to the requests.
    @Test("a reader gone too long: lines past 1 MiB dropped, and counted in a warning", .timeLimit(.minutes(2)))
    func droppedLinesAreCounted() throws {
        let daemon = try PipedDaemon(eventLoops: 1, nonBlocking: true)
        let client = try RawClient(port: daemon.port)
        let pad = String(repeating: "b", count: 200)
        let sent = 6000   // ~1.7 MB of lines
        for n in 0..<sent {
            try client.send(Self.get("/hello?n=\(n)&pad=\(pad)"))
            _ = try client.readResponse()
        }
        var pokes = 0
        let warned = daemon.readUntil(timeout: 20, poke: {
            try? client.send(Self.get("/hello?poke")); _ = try? client.readResponse(); pokes += 1
        }) { $0.contains("dropped: its file or pipe would not take them") }
        #expect(warned, "no warning; stderr tail:\n\(daemon.text.suffix(500))")
        sleep(seconds: 0.3)
        daemon.drain()
        let arrived = AccessLogTests.parse(daemon.text).lines.filter { $0.target.hasPrefix("/hello?n=") }.count
        let warning = daemon.text.split(separator: "\n").first { $0.contains("dropped: its file") } ?? ""
        let dropped = Int(warning.split(separator: "access log: ").last?.split(separator: " ").first ?? "") ?? -1
        #expect(dropped > 0 && arrived < sent, "\(arrived) arrived, \(dropped) dropped")
        #expect(arrived + dropped == sent, "\(arrived) arrived + \(dropped) dropped != \(sent) sent; warning: \(warning)")
    }
}
