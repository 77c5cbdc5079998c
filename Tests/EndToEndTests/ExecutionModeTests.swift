import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Execution modes end to end (issue 12): each route's handler runs where its
/// mode says — on the loop (sync, async), on a named pool thread (thread) or
/// in a child worker process (process) — and the daemon keeps each mode's
/// promise: a blocking handler in thread mode leaves the loop free, a CPU job
/// in process mode uses another core, answers come back in order, and a
/// drain cuts a blocked turn short.
///
/// Every suite of these tests is nested in this one, and it is serialized:
/// several of them time the loop against blocking or CPU-bound handlers on a
/// two-core machine, so they must not run alongside each other.
/// Run them all with `swift test --filter ExecutionModeTests`.
@Suite("Execution modes", .serialized)
struct ExecutionModeTests {
    static func get(_ target: String, _ extraHeaders: String = "") -> String {
        "GET \(target) HTTP/1.1\r\nHost: localhost\r\n\(extraHeaders)\r\n"
    }
    static let livez = get("/livez")

    /// The OS name of thread `index` of pool `pool`: `sy-pool-NAME-N`, NAME
    /// cut so the whole fits Linux's 15-character thread names.
    static func poolThreadName(_ pool: String, _ index: Int) -> String {
        let suffix = "-\(index)"
        return "sy-pool-" + String(pool.prefix(max(0, 15 - "sy-pool-".count - suffix.count))) + suffix
    }
}

// MARK: - 1. Where each mode runs

extension ExecutionModeTests {
    @Suite("Where handlers run")
    struct Placement {
        /// Guards the mode table's "where": sync on a loop thread of the
        /// daemon, thread on a named pool thread of the daemon (a route's
        /// `pool:` picks its named pool), process in a child worker whose
        /// parent is the daemon and whose main thread is `sy-worker-N`, async
        /// answered on the loop. A daemon that ran everything inline would
        /// report `sy-loop-0` and its own pid everywhere.
        @Test("echo reports the loop in sync, a pool thread in thread, a worker in process; async delay answers",
              .timeLimit(.minutes(1)))
        func echoInEachMode() throws {
            var config = DaemonConfig(eventLoops: 1)
            config.routes = ModeRoutes.basic + [
                ModeRoutes.echo, ModeRoutes.threadEcho, ModeRoutes.processEcho, ModeRoutes.delay,
                "{ path: /r/echo, handler: builtin.echo, mode: thread, pool: reports }",
            ]
            config.extra = """
                thread_pool: { size: 3, queue: 8 }
                thread_pools: { reports: { size: 2, queue: 4 } }
                process_pool: { size: 2, queue: 8 }
                """
            let daemon = try Daemon(config)
            defer { daemon.stop() }
            let daemonPid = Int(daemon.pid)

            // sync: a loop thread of the daemon.
            let sync = try Echo(daemon.get("/echo"))
            #expect(sync.thread.hasPrefix("sy-loop-"), "sync echo ran on \(sync.thread)")
            #expect(sync.pid == daemonPid, "sync echo pid \(sync.pid), daemon \(daemonPid)")

            // thread: the default pool's threads, in the daemon.
            var threadNamesSeen = Set<String>()
            for _ in 0..<6 {
                let response = try daemon.get("/t/echo")
                #expect(response.status == 200, "\(response.shown)")
                let echo = try Echo(response)
                #expect(echo.pid == daemonPid, "thread echo pid \(echo.pid), daemon \(daemonPid)")
                #expect(echo.thread.hasPrefix("sy-pool-defau-"), "thread echo ran on \(echo.thread)")
                threadNamesSeen.insert(echo.thread)
            }
            // A route with pool: reports runs on that pool's threads.
            let reports = try Echo(daemon.get("/r/echo"))
            #expect(reports.thread.hasPrefix("sy-pool-repor-"), "pool: reports echo ran on \(reports.thread)")
            #expect(reports.pid == daemonPid)

            // Every pool thread is a named thread of the daemon, as many as configured.
            let names = ModeProc.threadNames(daemon.pid)
            let poolNames = Set(names.filter { $0.hasPrefix("sy-pool-") })
            let expected = Set((0..<3).map { ExecutionModeTests.poolThreadName("default", $0) }
                               + (0..<2).map { ExecutionModeTests.poolThreadName("reports", $0) })
            #expect(poolNames == expected, "pool threads of the daemon: \(poolNames.sorted()); expected \(expected.sorted())")
            #expect(threadNamesSeen.isSubset(of: poolNames), "echo reported \(threadNamesSeen), daemon has \(poolNames)")

            // process: a child worker of the daemon.
            let workers = ModeProc.waitForWorkers(of: daemon.pid, count: 2)
            #expect(workers.count == 2, "workers of the daemon: \(workers.map { "\($0.pid) \($0.comm)" })")
            for _ in 0..<4 {
                let response = try daemon.get("/p/echo")
                #expect(response.status == 200, "\(response.shown)")
                let echo = try Echo(response)
                #expect(echo.pid != daemonPid, "process echo ran in the daemon itself (pid \(echo.pid))")
                #expect(echo.thread.hasPrefix("sy-worker-"), "process echo ran on \(echo.thread)")
                let stat = ModeProc.stat(Int32(echo.pid))
                #expect(stat?.ppid == daemon.pid,
                        "process echo pid \(echo.pid): parent \(stat.map { String($0.ppid) } ?? "gone"), daemon \(daemon.pid)")
                #expect(stat?.comm == echo.thread, "worker \(echo.pid)'s comm \(stat?.comm ?? "?") vs echo thread \(echo.thread)")
                let argv = ModeProc.commandLine(Int32(echo.pid))
                #expect(argv.contains("worker"), "worker \(echo.pid) argv: \(argv)")
            }

            // async: builtin.delay answers after its wait.
            let (delay, seconds) = try daemon.timedGet("/delay?ms=120")
            #expect(delay.status == 200 && delay.bodyString == "waited 120 ms\n", "\(delay.shown)")
            #expect(seconds >= 0.11 && seconds < 3, "delay?ms=120 answered after \(ms(seconds))")
        }

        /// Guards `thread_pool`'s default size (40, like anyio's limiter) and
        /// the pool thread names `sy-pool-defau-0` … `sy-pool-defa-39`, cut to
        /// 15 characters, all present in /proc/PID/task/*/comm.
        @Test("the default thread pool has 40 named threads", .timeLimit(.minutes(1)))
        func defaultPoolOfForty() throws {
            var config = DaemonConfig(eventLoops: 1)
            config.routes = ModeRoutes.basic + [ModeRoutes.threadEcho]
            let daemon = try Daemon(config)
            defer { daemon.stop() }
            #expect(try daemon.get("/t/echo").status == 200)
            let expected = Set((0..<40).map { ExecutionModeTests.poolThreadName("default", $0) })
            #expect(expected.contains("sy-pool-defau-0") && expected.contains("sy-pool-defa-39"))
            var poolNames = Set<String>()
            waitUntil(timeout: 5) {
                poolNames = Set(ModeProc.threadNames(daemon.pid).filter { $0.hasPrefix("sy-pool-") })
                return poolNames == expected
            }
            #expect(poolNames == expected,
                    "pool threads: \(poolNames.count), missing \(expected.subtracting(poolNames).sorted().prefix(5)), unexpected \(poolNames.subtracting(expected).sorted().prefix(5))")
        }

        /// Guards the synonyms and defaults: `sync_to_thread: true` runs a sync
        /// handler on a pool thread and `false` on the loop; a top-level
        /// `default_mode` decides for routes that declare nothing, and a
        /// route's own `mode` overrides it.
        @Test("sync_to_thread true/false and default_mode thread/process place handlers accordingly",
              .timeLimit(.minutes(1)))
        func synonymsAndDefaultMode() throws {
            var config = DaemonConfig(eventLoops: 1)
            config.routes = ModeRoutes.basic + [
                "{ path: /st/echo, handler: builtin.echo, sync_to_thread: true }",
                "{ path: /sf/echo, handler: builtin.echo, sync_to_thread: false }",
                "{ path: /d/echo, handler: builtin.echo }",
                "{ path: /s/echo, handler: builtin.echo, mode: sync }",
            ]
            config.extra = "default_mode: thread\nthread_pool: { size: 2, queue: 8 }"
            let daemon = try Daemon(config)
            let st = try Echo(daemon.get("/st/echo")), sf = try Echo(daemon.get("/sf/echo"))
            let d = try Echo(daemon.get("/d/echo")), s = try Echo(daemon.get("/s/echo"))
            #expect(st.thread.hasPrefix("sy-pool-"), "sync_to_thread: true ran on \(st.thread)")
            #expect(sf.thread.hasPrefix("sy-loop-"), "sync_to_thread: false ran on \(sf.thread)")
            #expect(d.thread.hasPrefix("sy-pool-"), "no mode with default_mode: thread ran on \(d.thread)")
            #expect(s.thread.hasPrefix("sy-loop-"), "mode: sync with default_mode: thread ran on \(s.thread)")
            daemon.stop()

            config.extra = "default_mode: process\nprocess_pool: { size: 1, queue: 8 }"
            let second = try Daemon(config)
            defer { second.stop() }
            let dp = try Echo(second.get("/d/echo")), sp = try Echo(second.get("/s/echo"))
            #expect(dp.pid != Int(second.pid) && dp.thread.hasPrefix("sy-worker-"),
                    "no mode with default_mode: process ran in pid \(dp.pid) on \(dp.thread); daemon \(second.pid)")
            #expect(sp.pid == Int(second.pid) && sp.thread.hasPrefix("sy-loop-"),
                    "mode: sync with default_mode: process ran in pid \(sp.pid) on \(sp.thread)")
        }

        /// Guards bulkheads: a named pool whose threads are all blocked (and
        /// whose queue holds more) does not slow routes on the default pool.
        /// Litestar has one global pool; one slow dependency starves it.
        @Test("a saturated named pool does not delay the default pool", .timeLimit(.minutes(1)))
        func bulkhead() throws {
            var config = DaemonConfig(eventLoops: 1)
            config.routes = ModeRoutes.basic + [
                ModeRoutes.threadEcho,
                "{ path: /r/sleep, handler: builtin.sleep, mode: thread, pool: reports }",
            ]
            config.extra = """
                thread_pool: { size: 2, queue: 8 }
                thread_pools: { reports: { size: 1, queue: 4 } }
                """
            let daemon = try Daemon(config)
            defer { daemon.stop() }
            let wave = ModeWave(port: daemon.port)
            for i in 0..<3 { wave.add(ExecutionModeTests.get("/r/sleep?ms=1000"), after: Double(i) * 0.02) }
            var echoes: [Int] = []
            for i in 0..<5 { echoes.append(wave.add(ExecutionModeTests.get("/t/echo"), after: 0.2 + Double(i) * 0.1)) }
            wave.run(timeout: 10)
            for i in echoes {
                let item = wave[i]
                #expect(item.status == 200 && (item.latency ?? .infinity) < 0.3,
                        "default-pool echo while pool reports is saturated: \(item.summary)")
                if let response = item.response, let echo = try? Echo(response) {
                    #expect(echo.thread.hasPrefix("sy-pool-defau-"), "ran on \(echo.thread)")
                }
            }
            // The reports pool really was saturated: its jobs ran one after another.
            let sleeps = (0..<3).map { wave[$0] }
            #expect(sleeps.allSatisfy { $0.status == 200 }, "\(sleeps.map(\.summary))")
            let slowest = sleeps.compactMap(\.latency).max() ?? 0
            #expect(slowest > 2.5, "3 sleeps of 1 s on a pool of 1 finished within \(ms(slowest)): not serialized")
        }
    }
}

// MARK: - 2. The loop stays free (the seed's point)

extension ExecutionModeTests {
    @Suite("The loop stays free")
    struct LoopFreedom {
        /// 8 requests to `target` at once, and `/livez` probes on fresh
        /// connections at 50, 100, 150 and 200 ms, against the RELEASE binary
        /// with one event loop.
        static func run(routes: [String], extra: String, target: String) throws -> (wave: ModeWave, handlers: [Int], probes: [Int]) {
            var config = DaemonConfig(eventLoops: 1)
            config.routes = ModeRoutes.basic + routes
            config.extra = extra
            let daemon = try Daemon.launch(config, binary: E2E.releaseBinaryPath)
            defer { daemon.stop() }
            // Warm the route up first (first use may set things up).
            _ = try daemon.get(target.replacingOccurrences(of: "300", with: "1"))
            let wave = ModeWave(port: daemon.port)
            let handlers = (0..<8).map { _ in wave.add(ExecutionModeTests.get(target)) }
            let probes = [0.05, 0.1, 0.15, 0.2].map { wave.add(ExecutionModeTests.livez, after: $0) }
            wave.run(timeout: 15)
            return (wave, handlers, probes)
        }

        /// Guards thread mode's promise: 8 blocking handlers on a pool of 8
        /// leave the event loop free, so `/livez` answers in under 50 ms while
        /// they block, and the 8 run side by side (all done in about 300 ms).
        @Test("8 × sleep?ms=300 in thread mode (pool 8): /livez under 50 ms meanwhile", .timeLimit(.minutes(1)))
        func threadModeLeavesLoopFree() throws {
            let (wave, handlers, probes) = try Self.run(routes: [ModeRoutes.threadSleep],
                                                        extra: "thread_pool: { size: 8, queue: 16 }",
                                                        target: "/t/sleep?ms=300")
            for i in handlers {
                #expect(wave[i].status == 200 && wave[i].response?.bodyString == "slept 300 ms\n", "\(wave[i].summary)")
                let latency = wave[i].latency ?? .infinity
                #expect(latency >= 0.28 && latency < 1.2, "a thread-mode sleep of 300 ms took \(ms(latency)) (8 on a pool of 8 run side by side)")
            }
            for (n, i) in probes.enumerated() {
                #expect(wave[i].status == 200 && (wave[i].latency ?? .infinity) < 0.05,
                        "/livez probe at \((n + 1) * 50) ms, while 8 thread-mode sleeps block: \(wave[i].summary)")
            }
        }

        /// The seed's point, shown: the same 8 blocking handlers in sync mode
        /// on one loop block it, so `/livez` waits at least until the sleep
        /// that is running ends (≥ 200 ms), and the 8 run one after another.
        /// If this test fails, the comparison above proves nothing.
        @Test("8 × sleep?ms=300 in sync mode (one loop): /livez waits ≥ 200 ms", .timeLimit(.minutes(1)))
        func syncModeBlocksLoop() throws {
            let (wave, handlers, probes) = try Self.run(routes: [ModeRoutes.sleep], extra: "", target: "/sleep?ms=300")
            for i in handlers {
                #expect(wave[i].status == 200 && wave[i].response?.bodyString == "slept 300 ms\n", "\(wave[i].summary)")
            }
            let slowest = handlers.compactMap { wave[$0].latency }.max() ?? 0
            #expect(slowest >= 2.0, "8 sync sleeps of 300 ms on one loop all done within \(ms(slowest)): they did not block the loop")
            let first = wave[probes[0]]
            // 200, or 503 naming the loop: builtin.health may see the loop
            // stalled past its lag limit by then, which is the point.
            #expect(first.status == 200 || first.status == 503, "\(first.summary)")
            #expect((first.latency ?? 0) >= 0.2, "/livez answered in \(ms(first.latency)) while sync sleeps block the only loop")
        }

        /// Guards async mode: 8 handlers awaiting a timer on the loop do not
        /// block it; `/livez` answers in under 50 ms and the 8 waits overlap.
        @Test("8 × delay?ms=300 in async mode: /livez under 50 ms meanwhile", .timeLimit(.minutes(1)))
        func asyncModeLeavesLoopFree() throws {
            let (wave, handlers, probes) = try Self.run(routes: [ModeRoutes.delay], extra: "", target: "/delay?ms=300")
            for i in handlers {
                #expect(wave[i].status == 200 && wave[i].response?.bodyString == "waited 300 ms\n", "\(wave[i].summary)")
                let latency = wave[i].latency ?? .infinity
                #expect(latency >= 0.28 && latency < 1.0, "an async delay of 300 ms took \(ms(latency))")
            }
            for (n, i) in probes.enumerated() {
                #expect(wave[i].status == 200 && (wave[i].latency ?? .infinity) < 0.05,
                        "/livez probe \(n) while 8 async delays wait: \(wave[i].summary)")
            }
        }
    }
}

// MARK: - 3. Process mode uses other cores

extension ExecutionModeTests {
    @Suite("Process mode uses other cores")
    struct OtherCores {
        /// Guards process mode's promise: two CPU jobs on a pool of two
        /// workers run on two cores at once — the pair takes about one job's
        /// time (< 1.6×) and each worker burns about a job's CPU — and the
        /// workers run at a lower priority than the loop, so `/livez` stays
        /// fast while they compute. Release binary; the job is calibrated at
        /// run time to ~0.5 s.
        ///
        /// The cores are shared with whatever else runs on the machine, so
        /// each round (one job alone, then two at once) also measures the CPU
        /// other processes took meanwhile; each round first waits (up to 90 s in
        /// all) for a quiet second, and the ratio is judged on rounds where
        /// others took under a third of a core. If no round of six is quiet, the
        /// ratio is printed, not asserted (everything else still is).
        @Test("2 concurrent cpu jobs with process_pool size 2 take < 1.6 × one job",
              .enabled(if: ProcessInfo.processInfo.activeProcessorCount >= 2, "needs two cores"),
              .timeLimit(.minutes(3)))
        func twoJobsTwoCores() throws {
            var config = DaemonConfig(eventLoops: 1)
            config.routes = ModeRoutes.basic + [ModeRoutes.processCPU]
            config.extra = "process_pool: { size: 2, queue: 16 }"
            let daemon = try Daemon.launch(config, binary: E2E.releaseBinaryPath)
            defer { daemon.stop() }
            let workers = ModeProc.waitForWorkers(of: daemon.pid, count: 2)
            try #require(workers.count == 2, "workers: \(workers.map { "\($0.pid) \($0.comm)" })")
            let ours = [daemon.pid] + workers.map(\.pid)
            func workerCPU() -> [Double] { workers.map { ModeProc.stat($0.pid)?.cpuSeconds ?? 0 } }

            // Calibrated on quiet cores: under another suite's load the job would come out too short.
            ModeProc.waitForQuiet(excluding: ours, limit: 30)
            var (rounds, _) = try daemon.calibrateCPU(path: "/p/cpu", target: 0.5)
            var body = try daemon.get("/p/cpu?rounds=\(rounds)", timeout: 30).bodyString
            #expect(body.count == 16, "cpu answer: \(body)")
            var recalibrations = 0

            var quietRatios: [Double] = [], allRatios: [Double] = [], loads: [String] = []
            var probeResults: [ModeWave.Item] = []
            let quietDeadline = now() + 90
            for _ in 0..<8 {   // six measured rounds, two more if the job needs recalibrating
                // Other suites run alongside this one: wait for them to leave the cores.
                ModeProc.waitForQuiet(excluding: ours, limit: max(0, quietDeadline - now()))
                // One job alone: its wall time and its CPU cost.
                let before1 = workerCPU()
                let (single, load1) = try ModeProc.foreignLoad(excluding: ours) { try daemon.timedGet("/p/cpu?rounds=\(rounds)", timeout: 30) }
                let jobCPU = zip(workerCPU(), before1).map { $0 - $1 }.reduce(0, +)
                #expect(single.response.status == 200 && single.response.bodyString == body, "\(single.response.shown)")
                if single.seconds < 0.2, recalibrations < 2 {
                    // Calibrated while something else slowed the job: scale it to ~0.5 s now and measure again.
                    recalibrations += 1
                    rounds = Int(Double(rounds) * 0.5 / max(single.seconds, 0.01))
                    body = try daemon.get("/p/cpu?rounds=\(rounds)", timeout: 30).bodyString
                    continue
                }
                #expect(single.seconds >= 0.2, "one job of \(rounds) rounds took only \(ms(single.seconds)), even after \(recalibrations) recalibrations")

                // Two at once (and /livez probed meanwhile in the first round).
                let before2 = workerCPU()
                let wave = ModeWave(port: daemon.port)
                let jobs = (0..<2).map { _ in wave.add(ExecutionModeTests.get("/p/cpu?rounds=\(rounds)")) }
                let probes = !probeResults.isEmpty ? [] : stride(from: 0.05, to: single.seconds * 0.9, by: 0.05).map { wave.add(ExecutionModeTests.livez, after: $0) }
                let (_, load2) = ModeProc.foreignLoad(excluding: ours) { wave.run(timeout: 30) }
                let burned = zip(workerCPU(), before2).map { $0 - $1 }
                for i in jobs {
                    #expect(wave[i].status == 200 && wave[i].response?.bodyString == body, "\(wave[i].summary)")
                }
                probeResults += probes.map { wave[$0] }
                for (k, worker) in workers.enumerated() {
                    #expect(burned[k] >= 0.5 * jobCPU, "worker \(worker.pid) burned \(ms(burned[k])) of CPU during the pair; one job costs \(ms(jobCPU)): the jobs did not go to both workers")
                }
                let pair = jobs.compactMap { wave[$0].latency }.max() ?? .infinity
                let ratio = pair / single.seconds
                allRatios.append(ratio)
                loads.append(String(format: "%.2f×(load %.2f/%.2f)", ratio, load1, load2))
                if max(load1, load2) < 0.33 {
                    quietRatios.append(ratio)
                    if quietRatios.count >= 2 || ratio < 1.3 { break }
                }
            }
            print("process mode, \(rounds) rounds: pair/one per round, with other processes' load in cores: \(loads.joined(separator: ", "))")
            if let best = quietRatios.min() {
                #expect(best < 1.6, "two concurrent jobs took \(String(format: "%.2f", best))× one job's time on the quietest round (want < 1.6×); rounds: \(loads)")
            } else {
                print("the machine was busy with other processes in every round; the pair/one ratio (best \(String(format: "%.2f", allRatios.min() ?? 0))×) is not asserted")
            }
            // Workers yield to the loop.
            let daemonNice = ModeProc.stat(daemon.pid)?.nice ?? 0
            for worker in workers {
                let nice = ModeProc.stat(worker.pid)?.nice ?? Int.min
                #expect(nice > daemonNice, "worker \(worker.pid) nice \(nice), daemon nice \(daemonNice)")
            }
            #expect(probeResults.count >= 3)
            for probe in probeResults {
                #expect(probe.status == 200 && (probe.latency ?? .infinity) < 0.1, "/livez while both workers compute: \(probe.summary)")
            }
        }
    }
}

// MARK: - 8. Pipelined requests across modes

extension ExecutionModeTests {
    @Suite("Order across modes")
    struct Ordering {
        struct Step {
            var request: String
            var what: String
            var check: (HTTPResponse, Int32) -> String?
        }

        static func echoStep(_ path: String, _ n: Int, where expectation: @escaping (Echo, Int32) -> String?) -> Step {
            Step(request: ExecutionModeTests.get("\(path)?n=\(n)"), what: "\(path)?n=\(n)") { response, daemon in
                guard response.status == 200 else { return "status \(response.status)" }
                guard let echo = try? Echo(response) else { return "not echo JSON: \(response.shown)" }
                guard echo.path == path, echo.queryText == "n=\(n)" else {
                    return "answer of another request: path \(echo.path) query \(echo.query ?? "nil")"
                }
                return expectation(echo, daemon)
            }
        }

        static func bodyStep(_ target: String, _ body: String) -> Step {
            Step(request: ExecutionModeTests.get(target), what: target) { response, _ in
                response.status == 200 && response.bodyString == body
                    ? nil : "status \(response.status), body \(visible(response.body, limit: 120)), want \(visible(Array(body.utf8)))"
            }
        }

        /// The brief's seven: sync echo, thread echo, process echo, async
        /// delay, sync hello, thread sleep, process cpu.
        static func steps(_ base: Int) -> [Step] {
            [
                echoStep("/echo", base + 1) { e, d in e.thread.hasPrefix("sy-loop-") && e.pid == Int(d) ? nil : "sync echo on \(e.thread) pid \(e.pid)" },
                echoStep("/t/echo", base + 2) { e, d in e.thread.hasPrefix("sy-pool-") && e.pid == Int(d) ? nil : "thread echo on \(e.thread) pid \(e.pid)" },
                echoStep("/p/echo", base + 3) { e, d in e.thread.hasPrefix("sy-worker-") && e.pid != Int(d) ? nil : "process echo on \(e.thread) pid \(e.pid)" },
                bodyStep("/delay?ms=50", "waited 50 ms\n"),
                bodyStep("/hello", "hello\n"),
                bodyStep("/t/sleep?ms=50", "slept 50 ms\n"),
                bodyStep("/p/cpu", "dea8cac835294525"),
            ]
        }

        static func config() -> DaemonConfig {
            var config = DaemonConfig(eventLoops: 1)
            config.routes = ModeRoutes.basic + [
                ModeRoutes.echo, ModeRoutes.threadEcho, ModeRoutes.processEcho, ModeRoutes.delay,
                ModeRoutes.threadSleep, ModeRoutes.processCPU,
            ]
            config.extra = "thread_pool: { size: 4, queue: 64 }\nprocess_pool: { size: 2, queue: 64 }"
            return config
        }

        /// Guards the dispatch core's ordering: a connection whose answer is
        /// away holds its later pipelined requests and answers strictly in
        /// order, whatever mode each one runs in and however long each takes;
        /// every request gets exactly one answer and nothing extra follows.
        @Test("pipelined sync, thread, process, async, sync, thread, process requests are answered in order",
              .timeLimit(.minutes(1)))
        func pipelinedAcrossModes() throws {
            let daemon = try Daemon(Self.config())
            defer { daemon.stop() }
            let client = try daemon.connect()
            // The brief's order, then reversed, then the brief's again.
            for (round, steps) in [Self.steps(0), Self.steps(10).reversed(), Self.steps(20)].enumerated() {
                try client.send(steps.map(\.request).joined())
                for (k, step) in steps.enumerated() {
                    let response: HTTPResponse
                    do { response = try client.readResponse(timeout: 10) } catch {
                        Issue.record("round \(round), answer \(k + 1) of \(steps.count) (\(step.what)): \(error)")
                        return
                    }
                    if let problem = step.check(response, daemon.pid) {
                        Issue.record("round \(round), answer \(k + 1) of \(steps.count) should answer \(step.what): \(problem)")
                    }
                }
                #expect(client.staysOpenAndSilent(for: 0.3), "bytes after the last answer of round \(round): \(visible(client.buffer))")
            }
        }

        /// Guards the same under load: 40 connections at once, each
        /// pipelining 8 requests over every mode in one write (in a different
        /// rotation each), all sharing the pools and workers; each connection
        /// gets its own 8 answers in its own order, none lost, none doubled.
        @Test("40 connections each pipelining 8 mixed-mode requests: each gets its own answers in order",
              .timeLimit(.minutes(1)))
        func manyPipelinesAcrossModes() throws {
            let daemon = try Daemon(Self.config())
            defer { daemon.stop() }
            let wave = ModeWave(port: daemon.port)
            var plans: [[Step]] = []
            for c in 0..<40 {
                let all = Self.steps(c * 100)
                let plan = (0..<8).map { all[($0 + c) % all.count] }
                plans.append(plan)
                wave.add(plan.map(\.request).joined(), after: Double(c % 4) * 0.01, expecting: plan.count)
            }
            wave.run(timeout: 30)
            var bad: [String] = []
            for (c, plan) in plans.enumerated() {
                let item = wave[c]
                if item.responses.count != plan.count || item.error != nil {
                    bad.append("connection \(c): \(item.responses.count) of \(plan.count) answers; \(item.error ?? "")")
                    continue
                }
                for (k, step) in plan.enumerated() {
                    if let problem = step.check(item.responses[k], daemon.pid) {
                        bad.append("connection \(c), answer \(k + 1) (\(step.what)): \(problem)")
                    }
                }
                if !item.buffer.isEmpty { bad.append("connection \(c): extra bytes \(visible(item.buffer, limit: 100))") }
            }
            #expect(bad.isEmpty, "\(bad.count) problems, e.g. \(bad.prefix(5))")
        }
    }
}

// MARK: - 13. 10,000 waiting async requests on one loop

extension ExecutionModeTests {
    @Suite("Many waiting async requests")
    struct ManyWaiting {
        /// Guards async mode at scale: one loop holds 10,000 concurrent
        /// `delay?ms=1000` requests (each really waits ~1 s) and answers them
        /// all, the last within ~3 s of the last request sent; and the memory
        /// each waiting request costs stays small (printed; asserted only
        /// below 64 KiB). Release binary.
        @Test("10,000 concurrent delay?ms=1000 on one loop: all 200, the last within 3 s of the last sent",
              .timeLimit(.minutes(1)))
        func tenThousandDelays() throws {
            _ = E2E.processSetup
            let limit = E2E.currentFileLimit()
            #expect(limit >= 10_300, "RLIMIT_NOFILE is only \(limit); this test needs 10,300 for 10,000 connections")
            let count = min(10_000, Int(limit) - 300)
            try #require(count >= 1000, "RLIMIT_NOFILE \(limit) is too low to run this test at all")

            var config = DaemonConfig(eventLoops: 1, limits: ["max_connections": count + 100, "idle_timeout_ms": 60000])
            config.routes = ModeRoutes.basic + [ModeRoutes.delay]
            let daemon = try Daemon.launch(config, binary: E2E.releaseBinaryPath)
            defer { daemon.stop() }
            for _ in 0..<3 { _ = try daemon.get("/delay?ms=1") }
            sleep(seconds: 0.2)
            let baseline = try #require(ProcStats.rss(daemon.pid))

            let wave = ModeWave(port: daemon.port, maxConnecting: 1000)
            for _ in 0..<count { wave.add(ExecutionModeTests.get("/delay?ms=1000")) }
            var peakGrowth = 0, waitingAtPeak = 0, peakWaiting = 0
            wave.run(timeout: 25) { w in
                let waiting = w.waitingCount
                peakWaiting = max(peakWaiting, waiting)
                guard waiting > count / 2, let rss = ProcStats.rss(daemon.pid) else { return }
                if rss - baseline > peakGrowth { peakGrowth = rss - baseline; waitingAtPeak = waiting }
            }

            let ok = wave.items.filter { $0.status == 200 && $0.response?.bodyString == "waited 1000 ms\n" }.count
            let failures = wave.items.filter { $0.status != 200 }
            #expect(ok == count, "\(ok) of \(count) answered 200 'waited 1000 ms'; e.g. \(failures.prefix(3).map(\.summary))")
            let lastSent = wave.items.compactMap(\.sentAt).max() ?? wave.origin
            let lastAnswer = wave.items.compactMap { $0.answeredAt.last }.max() ?? .infinity
            let shortest = wave.items.compactMap { item in item.sentAt.flatMap { s in item.answeredAt.first.map { $0 - s } } }.min() ?? 0
            #expect(lastAnswer - lastSent < 3, "last answer \(ms(lastAnswer - lastSent)) after the last request was sent")
            #expect(shortest >= 0.95, "a delay?ms=1000 answered \(ms(shortest)) after it was sent")
            #expect(peakWaiting > count / 2, "at most \(peakWaiting) of \(count) were waiting at once: sending took \(ms(lastSent - wave.origin))")

            let perRequest = waitingAtPeak > 0 ? Double(peakGrowth) / Double(waitingAtPeak) : 0
            print("""
                10,000 waiting delays: sent over \(ms(lastSent - wave.origin)), last answer \(ms(lastAnswer - lastSent)) after the last sent; \
                peak \(peakWaiting) waiting; RSS baseline \(baseline / 1024) KiB, growth \(peakGrowth / 1024) KiB with \(waitingAtPeak) waiting \
                = \(String(format: "%.1f", perRequest / 1024)) KiB per waiting request
                """)
            #expect(waitingAtPeak > 0, "no RSS sample while more than half were waiting")
            #expect(perRequest < 64 * 1024, "\(String(format: "%.1f", perRequest / 1024)) KiB per waiting request")
        }
    }
}

// MARK: - 14. A drain cuts a blocked turn short

extension ExecutionModeTests {
    @Suite("Drain")
    struct Drain {
        /// Guards the drain deadline against a loop turn full of blocking
        /// work: 20 pipelined `sleep?ms=300` on a sync route (6 s of work in
        /// one connection's turn), SIGTERM 150 ms in, `shutdown_timeout_ms:
        /// 1000`: the daemon stops taking on the rest once past the deadline
        /// and exits 0 within ~3 s, not after 6 s. What it did answer is
        /// whole, and the connection is closed.
        @Test("SIGTERM during 20 pipelined sync sleeps, shutdown_timeout_ms 1000: exit 0 within 3 s",
              .timeLimit(.minutes(1)))
        func drainCutsTurn() throws {
            var config = DaemonConfig(eventLoops: 1, limits: ["shutdown_timeout_ms": 1000])
            config.routes = ModeRoutes.basic + [ModeRoutes.sleep]
            let daemon = try Daemon(config)
            defer { daemon.stop() }
            let client = try daemon.connect()
            try client.send(String(repeating: ExecutionModeTests.get("/sleep?ms=300"), count: 20))
            sleep(seconds: 0.15)
            let signalledAt = now()
            daemon.process.kill(SIGTERM)
            let exit = daemon.process.wait(timeout: 8)
            let elapsed = now() - signalledAt
            #expect(exit == .exited(0), "after SIGTERM: \(exit.map(\.description) ?? "still running after 8 s"); log:\n\(daemon.log)")
            #expect(elapsed < 3, "exited \(ms(elapsed)) after SIGTERM with shutdown_timeout_ms 1000 (20 × 300 ms of work queued)")

            let (bytes, closed) = client.readUntilClosed(timeout: 3)
            #expect(closed, "connection still open after the daemon exited")
            var rest = bytes, answers: [HTTPResponse] = []
            while case .complete(let response, let consumed) = ResponseParser.parse(rest) {
                answers.append(response)
                rest.removeFirst(consumed)
            }
            #expect(rest.isEmpty, "a partial answer after \(answers.count) whole ones: \(visible(rest))")
            #expect(answers.count < 20, "all 20 sleeps answered: the drain did not cut the turn")
            for answer in answers {
                #expect(answer.status == 200 && answer.bodyString == "slept 300 ms\n", "\(answer.shown)")
            }
            if let last = answers.last { #expect(last.saysClose, "last answer before the drain closed: \(last.shown)") }
        }
    }
}
