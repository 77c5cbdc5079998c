import Foundation
import Testing

/// Which thread and process run a handler, and how loop threads are named.
@Suite("Threads and processes")
struct ThreadingTests {
    /// The names (`comm`) of every thread of `pid`.
    static func threadNames(_ pid: Int32) -> [String] {
        let dir = "/proc/\(pid)/task"
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return tasks.compactMap { try? String(contentsOfFile: "\(dir)/\($0)/comm", encoding: .utf8) }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    @Test("echo in sync mode runs on an sy-loop- thread of the daemon")
    func echoThreadAndPid() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let response = try daemon.request("GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(response.status == 200)
        let echo = try Echo(response)
        #expect(echo.thread.hasPrefix("sy-loop-"), "thread: \(echo.thread)")
        #expect(echo.pid == Int(daemon.pid), "echo pid \(echo.pid), daemon pid \(daemon.pid)")
    }

    @Test("event_loops: 2 names threads sy-loop-0 and sy-loop-1")
    func twoLoopThreads() throws {
        let daemon = try Daemon(DaemonConfig(eventLoops: 2))
        defer { daemon.stop() }
        // Serve a few requests first so the loops are certainly running.
        var seen = Set<String>()
        for _ in 0..<8 {
            let response = try daemon.request("GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n")
            let echo = try Echo(response)
            seen.insert(echo.thread)
        }
        #expect(seen.isSubset(of: ["sy-loop-0", "sy-loop-1"]), "handler threads: \(seen)")
        let names = Self.threadNames(daemon.pid)
        #expect(names.contains("sy-loop-0"), "threads: \(names)")
        #expect(names.contains("sy-loop-1"), "threads: \(names)")
        #expect(!names.contains("sy-loop-2"), "a third loop with event_loops 2: \(names)")
    }
}
