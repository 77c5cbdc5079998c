import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

// Process mode's workers as real processes: they really crash, are really
// recycled, never outlive the daemon, and are all up before READY=1.

extension ExecutionModeTests {
    @Suite("Worker processes")
    struct WorkerProcesses {
        static func config(size: Int, queue: Int = 8, maxJobs: Int? = nil, extraRoutes: [String] = []) -> DaemonConfig {
            var config = DaemonConfig(eventLoops: 1)
            config.routes = ModeRoutes.basic + [ModeRoutes.processCPU, ModeRoutes.processEcho] + extraRoutes
            config.extra = "process_pool: { size: \(size), queue: \(queue)\(maxJobs.map { ", max_jobs: \($0)" } ?? "") }"
            return config
        }

        /// The longest job `builtin.cpu` allows: seconds even in release, so
        /// it is certainly still running when the test interrupts it.
        static let longJob = ExecutionModeTests.get("/p/cpu?rounds=100000000")

        /// Sends a long CPU job to the only worker (and `then`, pipelined
        /// behind it) and waits (bounded) until that worker is burning CPU on it.
        static func startLongJob(_ daemon: Daemon, on worker: ModeProc.Stat, then: String = "") throws -> RawClient {
            let client = try daemon.connect()
            try client.send(longJob + then)
            let started = waitUntil(timeout: 5) {
                (ModeProc.stat(worker.pid)?.cpuSeconds ?? 0) - worker.cpuSeconds >= 0.05
            }
            try #require(started, "worker \(worker.pid) did not start computing within 5 s of the request")
            return client
        }

        /// Asserts that the next process request is served by a new worker of the daemon.
        static func expectReplaced(_ daemon: Daemon, old: ModeProc.Stat, _ context: String) throws {
            let response = try daemon.get("/p/echo", timeout: 10)
            #expect(response.status == 200, "\(context): next process request: \(response.shown)")
            guard response.status == 200 else { return }
            let echo = try Echo(response)
            #expect(echo.pid != Int(old.pid), "\(context): next process request ran on the same pid \(old.pid)")
            #expect(ModeProc.stat(Int32(echo.pid))?.ppid == daemon.pid, "\(context): pid \(echo.pid) is not a child of the daemon")
            #expect(!ModeProc.isAlive(old), "\(context): old worker \(old.pid) still alive")
            #expect(daemon.process.isRunning, "\(context): the daemon died; log:\n\(daemon.log)")
        }

        // MARK: 4. Workers that crash

        /// Guards "a crashing worker costs only its own request": a worker
        /// SIGKILLed mid-job fails that request with 502 promptly; the request
        /// pipelined behind it on the same connection is still answered, in
        /// order; the job queued behind it from another client is served by
        /// the replacement (not lost, not failed); later requests run on a new pid.
        @Test("worker SIGKILLed mid-job: that request 502, the queued one 200, the next on a new pid",
              .timeLimit(.minutes(1)))
        func workerKilled() throws {
            let daemon = try Daemon(Self.config(size: 1))
            defer { daemon.stop() }
            let worker = try #require(ModeProc.waitForWorkers(of: daemon.pid, count: 1).first, "no worker started")
            let victim = try Self.startLongJob(daemon, on: worker, then: ExecutionModeTests.get("/hello"))
            let queued = try daemon.connect()
            try queued.send(ExecutionModeTests.get("/p/echo?queued=1"))
            sleep(seconds: 0.1)

            kill(worker.pid, SIGKILL)
            let killedAt = now()
            let response = try victim.readResponse(timeout: 10)
            let elapsed = now() - killedAt
            #expect(response.status == 502, "request whose worker was SIGKILLed: \(response.shown)")
            #expect(elapsed < 3, "502 came \(ms(elapsed)) after the kill")
            if !response.saysClose {
                let next = try victim.readResponse(timeout: 5)
                #expect(next.status == 200 && next.bodyString == "hello\n", "the request pipelined behind the failed one: \(next.shown)")
            }

            let behind = try queued.readResponse(timeout: 10)
            #expect(behind.status == 200, "the job queued behind the killed one: \(behind.shown)")
            if behind.status == 200 {
                let echo = try Echo(behind)
                #expect(echo.queryText == "queued=1" && echo.pid != Int(worker.pid), "queued job answered by \(echo.pid) with query \(echo.query ?? "nil")")
            }
            try Self.expectReplaced(daemon, old: worker, "after SIGKILL")
        }

        /// A fatal signal, named for the test's description.
        struct CrashSignal: CustomTestStringConvertible, Sendable {
            var name: String
            var number: Int32
            var testDescription: String { name }
        }

        /// Guards the same for a worker that crashes — SIGSEGV first, and the
        /// other signals a crashing process gets — and that the worker's
        /// stderr (the Swift runtime's crash report) lands in the daemon's log
        /// as lines prefixed `worker <pid>:`. The signal is sent with kill(2)
        /// while the worker computes: the worker must end (it cannot know the
        /// fault was not its own), its request must get 502, and the next
        /// request a new worker.
        @Test("worker crashing mid-job: 502, its crash report in the log as 'worker PID:', next on a new pid",
              .timeLimit(.minutes(1)),
              arguments: [CrashSignal(name: "SIGSEGV", number: SIGSEGV), CrashSignal(name: "SIGBUS", number: SIGBUS),
                          CrashSignal(name: "SIGABRT", number: SIGABRT)])
        func workerCrashes(_ signal: CrashSignal) throws {
            let daemon = try Daemon(Self.config(size: 1))
            defer { daemon.stop() }
            let worker = try #require(ModeProc.waitForWorkers(of: daemon.pid, count: 1).first, "no worker started")
            // One answered batch first: its answer stays in the shared area, and
            // must not be taken for the crashed job's (it once was).
            #expect(try daemon.get("/p/echo", timeout: 10).status == 200)
            let victim = try Self.startLongJob(daemon, on: worker)

            kill(worker.pid, signal.number)
            let killedAt = now()
            let response: HTTPResponse
            do {
                response = try victim.readResponse(timeout: 5)
            } catch {
                let state = ModeProc.stat(worker.pid)
                Issue.record("""
                    no answer within 5 s of \(signal.name) to worker \(worker.pid) mid-job; the worker is \
                    \(state.map { "\(ModeProc.isAlive(worker) ? "alive" : "dead"), state \($0.state), CPU \(ms($0.cpuSeconds - worker.cpuSeconds)) since the job began" } ?? "gone"): \(error); \
                    log:\n\(daemon.log.split(separator: "\n").filter { $0.contains("crashed") || $0.contains("Signal") || $0.contains("was killed") }.prefix(6).joined(separator: "\n"))
                    """)
                return
            }
            let elapsed = now() - killedAt
            #expect(response.status == 502,
                    "request whose worker got \(signal.name): \(response.shown) after \(ms(elapsed)); worker \(worker.pid) alive: \(ModeProc.isAlive(worker))")
            #expect(elapsed < 5, "answer came \(ms(elapsed)) after the \(signal.name)")

            let prefix = "worker \(worker.pid): "
            let logged = waitUntil(timeout: 3) { daemon.log.contains(prefix) }
            #expect(logged, "no log line with '\(prefix)'; log tail:\n\(daemon.log.split(separator: "\n").suffix(8).joined(separator: "\n"))")
            let lines = daemon.log.split(separator: "\n").filter { $0.contains(prefix) }
            #expect(lines.count >= 2, "\(lines.count) lines from the worker's stderr")
            #expect(!daemon.log.contains("out of order"), "a stale answer was read for the crashed job:\n\(daemon.log)")
            try Self.expectReplaced(daemon, old: worker, "after \(signal.name)")
        }

        // MARK: 10. max_jobs

        /// Guards `max_jobs`: a worker is retired after that many jobs and the
        /// next job runs on a fresh worker (a leaky handler's memory is given
        /// back); the retired worker is reaped, not left a zombie.
        @Test("max_jobs: 3 with size 1: jobs 1–3 on one pid, job 4 on a new pid, the old one reaped",
              .timeLimit(.minutes(1)))
        func maxJobsRecycles() throws {
            let daemon = try Daemon(Self.config(size: 1, maxJobs: 3))
            defer { daemon.stop() }
            var pids: [Int] = []
            for n in 0..<7 {
                let response = try daemon.get("/p/echo?n=\(n)", timeout: 10)
                #expect(response.status == 200, "job \(n + 1): \(response.shown)")
                pids.append(try Echo(response).pid)
            }
            #expect(Set(pids[0..<3]).count == 1, "jobs 1–3 ran on pids \(pids[0..<3])")
            #expect(Set(pids[3..<6]).count == 1, "jobs 4–6 ran on pids \(pids[3..<6])")
            #expect(pids[3] != pids[0] && pids[6] != pids[3], "pids per job: \(pids)")
            #expect(Set(pids).count == 3, "pids per job with max_jobs 3: \(pids)")
            for old in Set(pids[0..<6]) {
                let gone = waitUntil(timeout: 2) { ModeProc.stat(Int32(old)).map { $0.ppid != daemon.pid } ?? true }
                #expect(gone, "retired worker \(old) is still the daemon's child (\(ModeProc.stat(Int32(old)).map { "state \($0.state)" } ?? ""))")
            }
            #expect(ModeProc.workers(of: daemon.pid).count == 1, "workers now: \(ModeProc.workers(of: daemon.pid).map(\.pid))")
        }

        // MARK: 11. Workers never outlive the daemon

        /// Guards PR_SET_PDEATHSIG: a daemon killed outright (no chance to
        /// clean up) takes its workers with it within 2 s — none is left
        /// holding a CPU job or memory.
        @Test("SIGKILL to the daemon: its workers are gone within 2 s", .timeLimit(.minutes(1)))
        func workersDieWithDaemon() throws {
            let daemon = try Daemon(Self.config(size: 2))
            defer { daemon.stop() }
            let workers = ModeProc.waitForWorkers(of: daemon.pid, count: 2)
            try #require(workers.count == 2, "workers: \(workers.map(\.pid))")
            // One of them busy with a job, to show a computing worker dies too.
            let busy = try daemon.connect()
            try busy.send(Self.longJob)
            sleep(seconds: 0.2)

            daemon.process.kill(SIGKILL)
            #expect(daemon.process.wait(timeout: 5) == .signaled(SIGKILL))
            let gone = waitUntil(timeout: 2) { workers.allSatisfy { !ModeProc.isAlive($0) } }
            let left = workers.filter { ModeProc.isAlive($0) }
            #expect(gone, "workers still alive 2 s after the daemon was SIGKILLed: \(left.map { "\($0.pid) \($0.comm)" })")
            for worker in left { kill(worker.pid, SIGKILL) }
        }

        /// Guards clean shutdown: SIGTERM stops the workers too — even ones
        /// busy with a long job — and the daemon exits 0 within its
        /// shutdown_timeout_ms (plus slack), with none left behind.
        @Test("SIGTERM to the daemon while both workers compute: exit 0 within ~1 s, its workers gone",
              .timeLimit(.minutes(1)))
        func workersStopWithDaemon() throws {
            var config = Self.config(size: 2)
            config.limits["shutdown_timeout_ms"] = 1000
            let daemon = try Daemon(config)
            defer { daemon.stop() }
            let workers = ModeProc.waitForWorkers(of: daemon.pid, count: 2)
            try #require(workers.count == 2, "workers: \(workers.map(\.pid))")
            var busy: [RawClient] = []
            for _ in 0..<2 {
                let client = try daemon.connect()
                try client.send(Self.longJob)
                busy.append(client)
            }
            let computing = waitUntil(timeout: 5) {
                workers.allSatisfy { (ModeProc.stat($0.pid)?.cpuSeconds ?? 0) - $0.cpuSeconds >= 0.05 }
            }
            #expect(computing, "both workers did not start computing")
            let start = now()
            let exit = daemon.stop(timeout: 15)
            let elapsed = now() - start
            #expect(exit == .exited(0), "log:\n\(daemon.log)")
            #expect(elapsed < 3, "exit took \(ms(elapsed)) with shutdown_timeout_ms 1000")
            let gone = waitUntil(timeout: 2) { workers.allSatisfy { !ModeProc.isAlive($0) } }
            #expect(gone, "workers alive 2 s after a clean exit: \(workers.filter { ModeProc.isAlive($0) }.map(\.pid))")
            for worker in workers where ModeProc.isAlive(worker) { kill(worker.pid, SIGKILL) }
        }

        // MARK: 12. Workers are up before READY=1

        /// Guards the contract's "READY=1 only after … pools are up": at the
        /// moment the service manager hears READY=1, the daemon already has
        /// `size` worker children that have started (named themselves
        /// `sy-worker-N`), and the first process request is served by one of them.
        @Test("process_pool size 3: when READY=1 arrives, 3 workers are already running", .timeLimit(.minutes(1)))
        func workersBeforeReady() throws {
            let dir = try E2E.makeTempDir()
            defer { try? FileManager.default.removeItem(at: dir) }
            let notify = try SystemdNotifyTests.NotifySocket(path: dir.appendingPathComponent("notify.sock").path)
            let configPath = dir.appendingPathComponent("switchyard.yaml").path
            let logPath = dir.appendingPathComponent("daemon.log").path
            try Self.config(size: 3).yaml(controlPath: dir.appendingPathComponent("control.sock").path)
                .write(toFile: configPath, atomically: true, encoding: .utf8)
            let child = try ChildProcess(E2E.binaryPath, ["serve", "--config", configPath],
                                         environment: E2E.childEnvironment(["RUNTIME_DIRECTORY": dir.path, "NOTIFY_SOCKET": notify.path]),
                                         stdoutPath: logPath, stderrPath: logPath)
            defer {
                child.kill(SIGTERM)
                if child.wait(timeout: 10) == nil { child.kill(SIGKILL); _ = child.wait(timeout: 5) }
            }
            var atReady: [ModeProc.Stat]?
            var allChildren: [ModeProc.Stat] = []
            var messages: [String] = []
            let deadline = now() + 30
            while now() < deadline, child.isRunning {
                guard let message = notify.receive(timeout: 0.02) else { continue }
                if message.split(separator: "\n").contains("READY=1") {
                    atReady = ModeProc.workers(of: child.pid)
                    allChildren = ModeProc.children(of: child.pid)
                    break
                }
                messages.append(message)
            }
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            let workers = try #require(atReady, "no READY=1 within 30 s (got \(messages)); log:\n\(log)")
            #expect(workers.count == 3,
                    "at READY=1 the daemon had \(workers.count) started workers; all children: \(allChildren.map { "\($0.pid) \($0.comm)" })")

            let port = try #require(Daemon.listeningAddresses(in: log).first
                .flatMap { $0.split(separator: ":").last.flatMap { Int($0) } }, "no listening line; log:\n\(log)")
            let client = try RawClient(port: port)
            try client.send(ExecutionModeTests.get("/p/echo"))
            let response = try client.readResponse(timeout: 10)
            #expect(response.status == 200, "\(response.shown)")
            if response.status == 200 {
                let pid = try Echo(response).pid
                #expect(workers.map { Int($0.pid) }.contains(pid), "first process request ran on \(pid), not one of the workers up at READY=1 \(workers.map(\.pid))")
            }
        }
    }
}
