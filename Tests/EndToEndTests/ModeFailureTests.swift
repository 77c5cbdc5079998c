import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

// What happens when a request leaves the loop and things go wrong: a full
// queue, a handler over its timeout_ms, a client that goes away while its
// answer is being computed.

extension ExecutionModeTests {
    // MARK: 5. Full queues answer 503 at once

    @Suite("Full queues")
    struct FullQueues {
        static func expectBusy(_ item: ModeWave.Item, _ context: String) {
            #expect(item.status == 503, "\(context): third request: \(item.summary) \(item.response?.shown ?? "")")
            #expect((item.latency ?? .infinity) < 0.3, "\(context): 503 came after \(ms(item.latency)), not at once")
            let retryAfter = item.response?.header("Retry-After")
            #expect(retryAfter.flatMap { Int($0) }.map { $0 >= 1 } == true, "\(context): Retry-After \(retryAfter ?? "missing")")
        }

        /// Guards thread mode's bounded queue: with one thread busy and the
        /// one queue place taken, a third request is refused with 503 and
        /// `Retry-After` at once — never an unbounded wait — while the two
        /// accepted ones are answered in turn.
        @Test("thread pool size 1 queue 1, 3 concurrent sleeps: the third 503 with Retry-After at once",
              .timeLimit(.minutes(1)))
        func threadQueueFull() throws {
            var config = DaemonConfig(eventLoops: 1)
            config.routes = ModeRoutes.basic + [ModeRoutes.threadSleep]
            config.extra = "thread_pool: { size: 1, queue: 1 }"
            let daemon = try Daemon(config)
            defer { daemon.stop() }
            let wave = ModeWave(port: daemon.port)
            let running = wave.add(ExecutionModeTests.get("/t/sleep?ms=1500"))
            let queued = wave.add(ExecutionModeTests.get("/t/sleep?ms=1500"), after: 0.2)
            let refused = wave.add(ExecutionModeTests.get("/t/sleep?ms=1500"), after: 0.4)
            wave.run(timeout: 10)
            Self.expectBusy(wave[refused], "thread pool")
            #expect(wave[running].status == 200 && wave[running].response?.bodyString == "slept 1500 ms\n", "\(wave[running].summary)")
            #expect(wave[queued].status == 200 && (wave[queued].latency ?? 0) > 2.2,
                    "queued behind a 1.5 s sleep on one thread: \(wave[queued].summary)")
            #expect(try daemon.get("/t/sleep?ms=1").status == 200, "the pool after the burst")
        }

        /// Guards the same for the worker processes' queue.
        @Test("process pool size 1 queue 1, 3 concurrent cpu jobs: the third 503 with Retry-After at once",
              .timeLimit(.minutes(1)))
        func processQueueFull() throws {
            var config = DaemonConfig(eventLoops: 1)
            config.routes = ModeRoutes.basic + [ModeRoutes.processCPU]
            config.extra = "process_pool: { size: 1, queue: 1 }"
            let daemon = try Daemon(config)
            defer { daemon.stop() }
            let (rounds, seconds) = try daemon.calibrateCPU(path: "/p/cpu", target: 1.0)
            #expect(seconds >= 0.5, "a job of \(rounds) rounds took only \(ms(seconds))")
            let wave = ModeWave(port: daemon.port)
            let jobs = [0, 0.2, 0.4].map { wave.add(ExecutionModeTests.get("/p/cpu?rounds=\(rounds)"), after: $0) }
            wave.run(timeout: 20)
            Self.expectBusy(wave[jobs[2]], "process pool")
            let first = wave[jobs[0]], second = wave[jobs[1]]
            #expect(first.status == 200 && second.status == 200, "\(first.summary); \(second.summary)")
            #expect(first.response?.bodyString == second.response?.bodyString && first.response?.body.count == 16,
                    "bodies \(first.response?.bodyString ?? "-") and \(second.response?.bodyString ?? "-")")
            #expect(try daemon.get("/p/cpu").bodyString == "dea8cac835294525", "the pool after the burst")
        }
    }

    // MARK: 6. timeout_ms answers 504

    @Suite("Timeouts")
    struct Timeouts {
        /// Sends `target` (over its 300 ms timeout), expects 504 between 250
        /// ms and `within` s, and returns the connection to use next (a new
        /// one if the 504 closed it).
        static func expect504(_ daemon: Daemon, _ target: String, within: Double) throws -> RawClient {
            let client = try daemon.connect()
            let start = now()
            try client.send(ExecutionModeTests.get(target))
            let response = try client.readResponse(timeout: 10)
            let elapsed = now() - start
            #expect(response.status == 504, "\(target) with timeout_ms 300: \(response.shown)")
            #expect(elapsed >= 0.25 && elapsed < within, "504 for \(target) came after \(ms(elapsed)); timeout_ms is 300")
            return response.saysClose ? try daemon.connect() : client
        }

        /// The timed-out request's late answer never shows up: the next
        /// request on the connection gets its own answer, then silence.
        static func expectNoLateAnswer(_ client: RawClient, quietUntil: Double) throws {
            try client.send(ExecutionModeTests.get("/hello"))
            let hello = try client.readResponse(timeout: 5)
            #expect(hello.status == 200 && hello.bodyString == "hello\n", "the request after the 504: \(hello.shown)")
            #expect(client.staysOpenAndSilent(for: max(0.2, quietUntil - now())),
                    "bytes after the answer that followed a 504 (a late answer?): \(visible(client.buffer))")
        }

        /// Guards async `timeout_ms`: 504 promptly; the task is cancelled and
        /// its answer never written; the connection serves on.
        @Test("async: delay?ms=5000 with timeout_ms 300 → 504 within ~1 s", .timeLimit(.minutes(1)))
        func asyncTimeout() throws {
            var config = DaemonConfig(eventLoops: 1)
            config.routes = ModeRoutes.basic + [ModeRoutes.withTimeout(ModeRoutes.delay, 300)]
            let daemon = try Daemon(config)
            defer { daemon.stop() }
            let client = try Self.expect504(daemon, "/delay?ms=5000", within: 1.5)
            try Self.expectNoLateAnswer(client, quietUntil: now() + 0.5)
            #expect(try daemon.get("/delay?ms=10").status == 200)
        }

        /// Guards thread `timeout_ms`: 504 promptly while the thread still
        /// blocks; the thread finishes on its own, its late result is dropped
        /// (never written to the connection), and the pool serves on.
        @Test("thread: sleep?ms=1200 with timeout_ms 300 → 504 within ~1 s; the late result is dropped",
              .timeLimit(.minutes(1)))
        func threadTimeout() throws {
            var config = DaemonConfig(eventLoops: 1)
            config.routes = ModeRoutes.basic + [ModeRoutes.withTimeout(ModeRoutes.threadSleep, 300)]
            config.extra = "thread_pool: { size: 1, queue: 4 }"
            let daemon = try Daemon(config)
            defer { daemon.stop() }
            let start = now()
            let client = try Self.expect504(daemon, "/t/sleep?ms=1200", within: 1.1)
            // Stay on the connection until well after the sleep ended.
            try Self.expectNoLateAnswer(client, quietUntil: start + 1.6)
            let after = try daemon.get("/t/sleep?ms=10")
            #expect(after.status == 200 && after.bodyString == "slept 10 ms\n", "the pool after the timeout: \(after.shown)")
        }

        /// Guards process `timeout_ms`: 504 promptly, the worker running the
        /// job is killed (not left computing) and replaced, and the next
        /// process request succeeds on the new worker.
        @Test("process: a long cpu job with timeout_ms 300 → 504 within ~1 s; worker replaced; next succeeds",
              .timeLimit(.minutes(1)))
        func processTimeout() throws {
            var config = DaemonConfig(eventLoops: 1)
            config.routes = ModeRoutes.basic + [ModeRoutes.withTimeout(ModeRoutes.processCPU, 300), ModeRoutes.processEcho]
            config.extra = "process_pool: { size: 1, queue: 4 }"
            let daemon = try Daemon(config)
            defer { daemon.stop() }
            let worker = try #require(ModeProc.waitForWorkers(of: daemon.pid, count: 1).first, "no worker")
            let client = try Self.expect504(daemon, "/p/cpu?rounds=100000000", within: 1.5)
            let gone = waitUntil(timeout: 2) { !ModeProc.isAlive(worker) }
            #expect(gone, "worker \(worker.pid) still alive 2 s after its job timed out")
            try Self.expectNoLateAnswer(client, quietUntil: now() + 0.3)
            try WorkerProcesses.expectReplaced(daemon, old: worker, "after a process timeout")
            #expect(try daemon.get("/p/cpu").bodyString == "dea8cac835294525")
        }
    }

    // MARK: 7. A client that leaves while its answer is away

    @Suite("Clients that leave")
    struct ClientsThatLeave {
        /// Guards async mode's cleanup: 200 clients each ask for a 60 s
        /// delay and close; the daemon closes those connections at once
        /// (descriptors back to the baseline within 3 s, not 60), starts no
        /// threads, and serves on.
        @Test("200 clients send delay?ms=60000 and close: fds back to baseline within 3 s, no new threads",
              .timeLimit(.minutes(1)))
        func asyncClientsLeave() throws {
            var config = DaemonConfig(eventLoops: 1, limits: ["max_connections": 1000])
            config.routes = ModeRoutes.basic + [ModeRoutes.delay]
            let daemon = try Daemon(config)
            defer { daemon.stop() }
            _ = try daemon.get("/delay?ms=1")
            sleep(seconds: 0.2)
            let fds = ModeProc.fdCount(daemon.pid), threads = ModeProc.threadCount(daemon.pid)

            var clients: [RawClient] = []
            for _ in 0..<200 {
                let client = try daemon.connect()
                try client.send(ExecutionModeTests.get("/delay?ms=60000"))
                clients.append(client)
            }
            let held = waitUntil(timeout: 5) { ModeProc.fdCount(daemon.pid) >= fds + 200 }
            #expect(held, "the daemon holds \(ModeProc.fdCount(daemon.pid) - fds) more fds, not 200: requests not accepted")
            sleep(seconds: 0.3)
            clients.removeAll()   // close every connection
            let closedAt = now()
            let back = waitUntil(timeout: 3) { ModeProc.fdCount(daemon.pid) <= fds }
            #expect(back, "fds \(ModeProc.fdCount(daemon.pid)) 3 s after 200 waiting clients left; baseline \(fds)")
            if back { print("async: fds back to baseline \(ms(now() - closedAt)) after 200 clients left") }
            #expect(ModeProc.threadCount(daemon.pid) <= threads, "threads \(ModeProc.threadCount(daemon.pid)), baseline \(threads)")
            let (after, seconds) = try daemon.timedGet("/delay?ms=10")
            #expect(after.status == 200 && seconds < 1, "delay after the clients left: \(after.shown) in \(ms(seconds))")
        }

        /// Guards thread mode's cleanup: 4 clients ask for 3 s sleeps on a
        /// pool of one thread and close. Their connections are closed at once
        /// (long before the running sleep ends), the 3 queued jobs are dropped
        /// (never run), so a new request runs as soon as the one already
        /// running ends — about 3 s in, not 12.
        @Test("4 clients queue thread-mode sleeps on a pool of 1 and close: fds back at once, queued jobs dropped",
              .timeLimit(.minutes(1)))
        func threadClientsLeave() throws {
            var config = DaemonConfig(eventLoops: 1)
            config.routes = ModeRoutes.basic + [ModeRoutes.threadSleep]
            config.extra = "thread_pool: { size: 1, queue: 8 }"
            let daemon = try Daemon(config)
            defer { daemon.stop() }
            _ = try daemon.get("/t/sleep?ms=1")
            sleep(seconds: 0.2)
            let fds = ModeProc.fdCount(daemon.pid), threads = ModeProc.threadCount(daemon.pid)

            let start = now()
            var clients: [RawClient] = []
            for _ in 0..<4 {
                let client = try daemon.connect()
                try client.send(ExecutionModeTests.get("/t/sleep?ms=3000"))
                clients.append(client)
                sleep(seconds: 0.05)
            }
            sleep(seconds: 0.25)
            clients.removeAll()
            let closedAt = now()
            let back = waitUntil(timeout: 1.5) { ModeProc.fdCount(daemon.pid) <= fds }
            #expect(back, "fds \(ModeProc.fdCount(daemon.pid)) 1.5 s after the clients left (baseline \(fds)); the running sleep ends 3 s after start")
            if back { print("thread: fds back to baseline \(ms(now() - closedAt)) after the clients left") }

            let (next, seconds) = try daemon.timedGet("/t/sleep?ms=10", timeout: 20)
            let sinceStart = now() - start
            #expect(next.status == 200 && next.bodyString == "slept 10 ms\n", "\(next.shown)")
            #expect(sinceStart < 5, "the next thread request was answered \(ms(sinceStart)) after the abandoned ones started (waited \(ms(seconds))): the 3 queued 3 s sleeps ran")
            #expect(ModeProc.threadCount(daemon.pid) <= threads, "threads \(ModeProc.threadCount(daemon.pid)), baseline \(threads)")
        }

        /// Guards process mode's cleanup: 4 clients send 2 s jobs to one
        /// worker and close. Their connections are closed at once, the 3
        /// queued jobs are dropped, the running one's answer is dropped, and
        /// the worker (or its replacement) serves the next request normally,
        /// about when the running job would have ended (were the queued ones
        /// run, 6 s later). The jobs block (`builtin.sleep`) rather than
        /// compute, so a suite running beside it cannot stretch them.
        @Test("4 clients queue 2 s jobs on 1 worker and close: fds back at once, queued jobs dropped, worker serves on",
              .timeLimit(.minutes(1)))
        func processClientsLeave() throws {
            var config = DaemonConfig(eventLoops: 1)
            config.routes = ModeRoutes.basic + [ModeRoutes.processSleep, ModeRoutes.processEcho]
            config.extra = "process_pool: { size: 1, queue: 8 }"
            let daemon = try Daemon(config)
            defer { daemon.stop() }
            let job = 2.0
            _ = try daemon.get("/p/echo")   // the worker is up
            sleep(seconds: 0.2)
            let fds = ModeProc.fdCount(daemon.pid), threads = ModeProc.threadCount(daemon.pid)

            let start = now()
            var clients: [RawClient] = []
            for _ in 0..<4 {
                let client = try daemon.connect()
                try client.send(ExecutionModeTests.get("/p/sleep?ms=\(Int(job * 1000))"))
                clients.append(client)
                sleep(seconds: 0.05)
            }
            sleep(seconds: 0.25)
            clients.removeAll()
            let closedAt = now()
            let back = waitUntil(timeout: 1.0) { ModeProc.fdCount(daemon.pid) <= fds }
            #expect(back, "fds \(ModeProc.fdCount(daemon.pid)) 1 s after the clients left (baseline \(fds)); the running job takes \(ms(job))")
            if back { print("process: fds back to baseline \(ms(now() - closedAt)) after the clients left") }

            let (next, _) = try daemon.timedGet("/p/echo", timeout: 30)
            let sinceStart = now() - start
            #expect(next.status == 200, "\(next.shown)")
            #expect(sinceStart < job + 1.5, "the next process request was answered \(ms(sinceStart)) after the abandoned jobs started; one job is \(ms(job)): a queued one ran")
            #expect(ModeProc.workers(of: daemon.pid).count == 1, "workers: \(ModeProc.workers(of: daemon.pid).map(\.pid))")
            #expect(waitUntil(timeout: 2) { ModeProc.fdCount(daemon.pid) <= fds }, "fds \(ModeProc.fdCount(daemon.pid)), baseline \(fds)")
            #expect(ModeProc.threadCount(daemon.pid) <= threads, "threads \(ModeProc.threadCount(daemon.pid)), baseline \(threads)")
        }
    }
}
