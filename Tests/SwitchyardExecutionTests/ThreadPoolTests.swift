#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
@testable import SwitchyardExecution

@Suite("Thread pool")
struct ThreadPoolTests {
    final class Job: PoolJob, @unchecked Sendable {
        let shared: Shared
        let hold: UInt32
        init(_ shared: Shared, holdMicroseconds: UInt32 = 0) { self.shared = shared; self.hold = holdMicroseconds }
        func run() {
            let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
            shared.names.withLock { _ = $0.insert(comm.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if hold > 0 { usleep(hold) }
            shared.ran.add(1, ordering: .relaxed)
        }
    }

    final class Shared: Sendable {
        let ran = Atomic<Int>(0)
        let names = Mutex<Set<String>>([])
    }

    static func waitUntil(_ condition: () -> Bool) {
        for _ in 0..<5000 where !condition() { usleep(2000) }
    }

    @Test func threadNamesKeepTheIndexWithinLinuxsFifteenCharacters() {
        #expect(ThreadPool.threadName(pool: "io", index: 3) == "sy-pool-io-3")
        #expect(ThreadPool.threadName(pool: "default", index: 0) == "sy-pool-defau-0")
        #expect(ThreadPool.threadName(pool: "default", index: 39) == "sy-pool-defa-39")
        #expect(ThreadPool.threadName(pool: "reports", index: 12).count <= 15)
    }

    @Test func everyJobRunsOnceOnANamedPoolThread() throws {
        let pool = ThreadPool(name: "t", threads: 4, queueLimit: 10_000)
        try pool.start()
        defer { pool.stop() }
        let shared = Shared()
        var jobs: [any PoolJob] = (0..<2000).map { _ in Job(shared) }
        pool.submit(&jobs)
        #expect(jobs.isEmpty, "all fit in the queue")
        Self.waitUntil { shared.ran.load(ordering: .relaxed) == 2000 }
        #expect(shared.ran.load(ordering: .relaxed) == 2000)
        let names = shared.names.withLock { $0 }
        #expect(!names.isEmpty && names.allSatisfy { $0.hasPrefix("sy-pool-t-") }, "\(names)")
    }

    @Test func aFullQueueRefusesTheRestAtOnce() throws {
        let pool = ThreadPool(name: "q", threads: 1, queueLimit: 2)
        try pool.start()
        defer { pool.stop() }
        let shared = Shared()
        // One job holds the only thread; then two fit in the queue and two do not.
        var first: [any PoolJob] = [Job(shared, holdMicroseconds: 300_000)]
        pool.submit(&first)
        Self.waitUntil { pool.busyCount == 1 }
        var more: [any PoolJob] = (0..<4).map { _ in Job(shared) }
        pool.submit(&more)
        #expect(more.count == 2, "2 queued, 2 refused")
        #expect(pool.queuedCount == 2)
        Self.waitUntil { shared.ran.load(ordering: .relaxed) == 3 }
        #expect(shared.ran.load(ordering: .relaxed) == 3)
    }
}
