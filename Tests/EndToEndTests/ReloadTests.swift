import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

// Reloads end to end (issue 13): `switchyard reload` on good and bad
// configs, reload_on_change (rename-over edits, included files, a
// Kubernetes ConfigMap symlink swap, touches that change nothing), listeners
// diffed across reloads, and signals in bursts. Nested in `LifecycleTests`,
// which runs its suites one at a time.

extension LifecycleTests {
    /// A daemon in its own temp dir, started from `config`, with a notify socket.
    final class ReloadFixture {
        let dir: URL
        let configPath: String
        let control: String
        let notify: Lifecycle.NotifyRecorder
        let daemon: Lifecycle.Service

        init(_ config: DaemonConfig, setUp: (URL) throws -> Void = { _ in }) throws {
            dir = try E2E.makeTempDir()
            control = dir.appendingPathComponent("control.sock").path
            configPath = dir.appendingPathComponent("switchyard.yaml").path
            try setUp(dir)
            try config.yaml(controlPath: control).write(toFile: configPath, atomically: true, encoding: .utf8)
            notify = try Lifecycle.NotifyRecorder(path: dir.appendingPathComponent("notify.sock").path)
            daemon = try Lifecycle.Service(dir: dir, configPath: configPath, environment: ["NOTIFY_SOCKET": notify.path])
            guard notify.wait(timeout: 20, for: { $0.kind == "READY" }) != nil else {
                throw E2EError("no READY=1 within 20 s; log:\n\(daemon.log)")
            }
        }

        deinit {
            daemon.stop()
            try? FileManager.default.removeItem(at: dir)
        }

        var port: Int { daemon.port }

        func write(_ config: DaemonConfig) throws {
            try Lifecycle.writeByRename(config.yaml(controlPath: control), to: configPath)
        }

        func gen() -> String? { try? Lifecycle.get(port: port, "/gen").bodyString }

        func readyz() throws -> String { try Lifecycle.get(port: port, "/readyz?verbose").bodyString }
    }
}

// MARK: - 2. switchyard reload

extension LifecycleTests {
    @Suite("switchyard reload")
    struct ReloadCommand {
        /// Guards `switchyard reload` as `ExecReload=` uses it. Good config:
        /// exit 0 only once the new config serves (the very next request gets
        /// the new body), its output names generation 2 and the hash that
        /// `/readyz?verbose` then shows. Bad config: exit 1 with
        /// FILE:LINE:COL on stderr (the line and column of the unknown
        /// handler), and nothing else changes — the old body, generation and
        /// hash keep serving — except `/readyz?verbose`'s last-reload line,
        /// the log, and the READY=1 after RELOADING=1, whose STATUS= says
        /// `failed`. The next good reload is generation 3: the failed one
        /// used up nothing.
        @Test("good config: exit 0, served at once; bad config: exit 1 with file:line:col, old config serves", .timeLimit(.minutes(1)))
        func goodThenBad() throws {
            let fixture = try ReloadFixture(LifecycleTests.config(body: "A"))
            let daemon = fixture.daemon
            #expect(fixture.gen() == "A\n")

            try fixture.write(LifecycleTests.config(body: "B"))
            let good = try daemon.reload()
            #expect(good.status == 0, "\(good.summary)")
            #expect(fixture.gen() == "B\n", "GET /gen right after `switchyard reload` returned; log:\n\(daemon.log)")
            let stdout = good.result.stdoutString
            #expect(stdout.hasPrefix("switchyard reload: generation 2, config "), "\(good.summary)")
            let hash2 = try #require(LifecycleTests.hash(in: stdout), "\(good.summary)")
            let readyz2 = try fixture.readyz()
            #expect(readyz2.contains("[+] config: generation 2, \(fixture.configPath), hash \(hash2), loaded "), "\(readyz2)")
            #expect(readyz2.contains(try Regex(#"\[\+\] last reload: \d\d:\d\d:\d\d ok\n"#)), "\(readyz2)")

            // A bad config: an unknown handler at a line and column we know.
            var bad = LifecycleTests.config(body: "C")
            bad.routes.append("{ path: /broken, handler: builtin.nope, mode: sync }")
            let badYAML = bad.yaml(controlPath: fixture.control)
            let lines = badYAML.split(separator: "\n", omittingEmptySubsequences: false)
            let lineIndex = try #require(lines.firstIndex { $0.contains("builtin.nope") })
            let column = lines[lineIndex].distance(from: lines[lineIndex].startIndex, to: lines[lineIndex].range(of: "builtin.nope")!.lowerBound) + 1
            let place = "\(fixture.configPath):\(lineIndex + 1):\(column): error:"
            try Lifecycle.writeByRename(badYAML, to: fixture.configPath)
            var index = fixture.notify.messages.count
            let failed = try daemon.reload()
            #expect(failed.status == 1, "\(failed.summary)")
            #expect(failed.result.stderrString.hasPrefix("switchyard reload: \(place)"), "want \(place) on stderr; \(failed.summary)")
            #expect(failed.result.stdoutString.isEmpty, "\(failed.summary)")
            #expect(fixture.gen() == "B\n", "the old config must keep serving after a failed reload")
            #expect(Lifecycle.refuses(port: fixture.port) == false)
            let readyz3 = try fixture.readyz()
            #expect(readyz3.contains("[+] config: generation 2, \(fixture.configPath), hash \(hash2), loaded "), "\(readyz3)")
            #expect(readyz3.contains("last reload: ") && readyz3.contains(" failed: \(place)"), "\(readyz3)")
            #expect(daemon.log.contains("error switchyard: reload failed; generation 2 keeps serving: \(place)"), "log:\n\(daemon.log)")
            let reloading = fixture.notify.nextLifecycle(after: &index, timeout: 5)
            let ready = fixture.notify.nextLifecycle(after: &index, timeout: 5)
            #expect(reloading?.kind == "RELOADING", "\(String(describing: reloading))")
            #expect(ready?.kind == "READY", "\(String(describing: ready))")
            let status = ready?.value("STATUS") ?? ""
            #expect(status.hasPrefix("generation 2 (config \(hash2))") && status.contains(" failed: ") && status.contains(place),
                    "STATUS after the failed reload: \(status)")

            try fixture.write(LifecycleTests.config(body: "D"))
            let again = try daemon.reload()
            #expect(again.status == 0 && again.result.stdoutString.hasPrefix("switchyard reload: generation 3, "), "\(again.summary)")
            #expect(fixture.gen() == "D\n")
            #expect(daemon.stop() == .exited(0))
        }
    }
}

// MARK: - 3. reload_on_change

extension LifecycleTests {
    @Suite("reload_on_change")
    struct ReloadOnChange {
        static func config(_ body: String, extra: String = "reload_on_change: true") -> DaemonConfig {
            LifecycleTests.config(body: body, extra: extra)
        }

        /// Polls `/gen` until it answers `body`; returns the seconds it took, or nil.
        static func secondsUntil(_ fixture: ReloadFixture, serves body: String, from start: Double, timeout: Double = 8) -> Double? {
            waitUntil(timeout: timeout) { fixture.gen() == body } ? now() - start : nil
        }

        /// Guards an edit as editors save it (a temp file renamed over the
        /// config): with reload_on_change the new config serves within 3 s
        /// (300 ms debounce plus a reload), as generation 2.
        @Test("a rename-over edit reloads within 3 s", .timeLimit(.minutes(1)))
        func renameOverEdit() throws {
            let fixture = try ReloadFixture(Self.config("A"))
            #expect(fixture.gen() == "A\n")
            let start = now()
            try fixture.write(Self.config("B"))
            let took = Self.secondsUntil(fixture, serves: "B\n", from: start)
            #expect(took != nil && took! < 3, "the edit served after \(ms(took)); log:\n\(fixture.daemon.log)")
            // /readyz?verbose is updated just after the loops switch: allow it a moment.
            #expect(waitUntil(timeout: 2) { Lifecycle.generation(port: fixture.port) == 2 }, "\((try? fixture.readyz()) ?? "")")
            #expect(fixture.daemon.waitForLog("reloaded: generation 2", timeout: 2))
        }

        /// Guards included files: a change in `routes.d/*.yaml` (another
        /// directory than the main file's) reloads too.
        @Test("a change in an included file reloads", .timeLimit(.minutes(1)))
        func includedFileEdit() throws {
            func routes(_ body: String) -> String {
                "routes:\n  - { path: /inc, handler: builtin.text, mode: sync, options: { body: \"\(body)\\n\" } }\n"
            }
            let extra = "reload_on_change: true\ninclude: [\"routes.d/*.yaml\"]"
            let fixture = try ReloadFixture(Self.config("A", extra: extra)) { dir in
                let routesDir = dir.appendingPathComponent("routes.d")
                try FileManager.default.createDirectory(at: routesDir, withIntermediateDirectories: true)
                try routes("one").write(to: routesDir.appendingPathComponent("extra.yaml"), atomically: true, encoding: .utf8)
            }
            let included = fixture.dir.appendingPathComponent("routes.d/extra.yaml").path
            #expect((try? Lifecycle.get(port: fixture.port, "/inc").bodyString) == "one\n")
            let start = now()
            try Lifecycle.writeByRename(routes("two"), to: included)
            let changed = waitUntil(timeout: 8) { (try? Lifecycle.get(port: fixture.port, "/inc").bodyString) == "two\n" }
            #expect(changed && now() - start < 3, "the included file's edit served after \(ms(now() - start)) (changed: \(changed)); log:\n\(fixture.daemon.log)")
        }

        /// Guards the ConfigMap case: the config is `switchyard.yaml ->
        /// ..data/switchyard.yaml`, and an update makes `..2026_B`, points a
        /// `..data_tmp` symlink at it, renames that over `..data` and removes
        /// the old directory, as the kubelet does. The file itself is never
        /// written; only the symlink swap says it changed.
        @Test("a ConfigMap-style ..data symlink swap reloads", .timeLimit(.minutes(1)))
        func configMapSwap() throws {
            let fm = FileManager.default
            let dir = try E2E.makeTempDir()
            defer { try? fm.removeItem(at: dir) }
            let control = dir.appendingPathComponent("control.sock").path
            let mapDir = dir.appendingPathComponent("cm")
            let a = mapDir.appendingPathComponent("..2026_A")
            try fm.createDirectory(at: a, withIntermediateDirectories: true)
            try Self.config("A").yaml(controlPath: control).write(to: a.appendingPathComponent("switchyard.yaml"), atomically: true, encoding: .utf8)
            try fm.createSymbolicLink(atPath: mapDir.appendingPathComponent("..data").path, withDestinationPath: "..2026_A")
            try fm.createSymbolicLink(atPath: mapDir.appendingPathComponent("switchyard.yaml").path, withDestinationPath: "..data/switchyard.yaml")
            let daemon = try Lifecycle.Service(dir: dir, configPath: mapDir.appendingPathComponent("switchyard.yaml").path)
            defer { daemon.stop() }
            #expect((try? Lifecycle.get(port: daemon.port, "/gen").bodyString) == "A\n")
            sleep(seconds: 0.5)

            let b = mapDir.appendingPathComponent("..2026_B")
            try fm.createDirectory(at: b, withIntermediateDirectories: true)
            try Self.config("B").yaml(controlPath: control).write(to: b.appendingPathComponent("switchyard.yaml"), atomically: true, encoding: .utf8)
            try fm.createSymbolicLink(atPath: mapDir.appendingPathComponent("..data_tmp").path, withDestinationPath: "..2026_B")
            let start = now()
            #expect(rename(mapDir.appendingPathComponent("..data_tmp").path, mapDir.appendingPathComponent("..data").path) == 0)
            try fm.removeItem(at: mapDir.appendingPathComponent("..2026_A"))
            let changed = waitUntil(timeout: 8) { (try? Lifecycle.get(port: daemon.port, "/gen").bodyString) == "B\n" }
            #expect(changed && now() - start < 3, "the swap served after \(ms(now() - start)) (changed: \(changed)); log:\n\(daemon.log)")
            #expect(waitUntil(timeout: 2) { Lifecycle.generation(port: daemon.port) == 2 })
        }

        /// Guards "reloads only if the content changed": a touch (new mtime,
        /// an IN_ATTRIB event) and a rename-over of identical bytes make no
        /// new generation, no RELOADING=1 and no `reloading` line. Then a
        /// real change still reloads, so the quiet was not a dead watcher.
        @Test("a touch or an identical rewrite makes no new generation", .timeLimit(.minutes(1)))
        func touchDoesNothing() throws {
            let fixture = try ReloadFixture(Self.config("A"))
            let notifications = fixture.notify.messages.count
            sleep(seconds: 0.3)
            #expect(utimensat(AT_FDCWD, fixture.configPath, nil, 0) == 0)
            sleep(seconds: 0.2)
            try fixture.write(Self.config("A"))
            sleep(seconds: 1.5)
            let readyzAfterTouch = (try? fixture.readyz()) ?? "no answer"
            #expect(Lifecycle.generation(port: fixture.port) == 1, "\(readyzAfterTouch)")
            #expect(!fixture.daemon.log.contains("reloading"), "log:\n\(fixture.daemon.log)")
            #expect(fixture.notify.messages.count == notifications, "notifications after a touch: \(fixture.notify.messages.dropFirst(notifications))")

            let start = now()
            try fixture.write(Self.config("B"))
            let took = Self.secondsUntil(fixture, serves: "B\n", from: start)
            #expect(took != nil && took! < 3, "a real change served after \(ms(took)); log:\n\(fixture.daemon.log)")
            #expect(waitUntil(timeout: 2) { Lifecycle.generation(port: fixture.port) == 2 }, "\((try? fixture.readyz()) ?? "")")
        }
    }
}

// MARK: - 6. Listener diff

extension LifecycleTests {
    @Suite("Listeners across reloads")
    struct ListenerDiff {
        /// Guards the listener diff: a reload that adds a second address
        /// binds it (it answers as soon as `switchyard reload` returns); a
        /// later reload that drops it closes it (refused at once) while a
        /// request in flight on it still gets its answer; the first address,
        /// unchanged (`127.0.0.1:0` both times, so a rebind would move it to
        /// another port), never refuses: a prober connects every few ms
        /// through both reloads, and a keep-alive connection opened before
        /// them is still served after.
        @Test("an added address is bound, a removed one closed; the kept one never refuses", .timeLimit(.minutes(1)))
        func addThenRemove() throws {
            let fixture = try ReloadFixture(LifecycleTests.config(body: "A"))
            let daemon = fixture.daemon
            let first = fixture.port
            let second = try Lifecycle.freePort()
            #expect(Lifecycle.refuses(port: second))
            let keepAlive = try RawClient(port: first)
            try keepAlive.send(Lifecycle.get("/gen"))
            #expect(try keepAlive.readResponse().bodyString == "A\n")
            let prober = Lifecycle.Prober(port: first)
            sleep(seconds: 0.3)

            try fixture.write(LifecycleTests.config(body: "B", listen: ["127.0.0.1:0", "127.0.0.1:\(second)"]))
            let add = try daemon.reload()
            #expect(add.status == 0, "\(add.summary)")
            let onSecond = try? Lifecycle.get(port: second, "/gen")
            #expect(onSecond?.status == 200 && onSecond?.bodyString == "B\n", "the added address 127.0.0.1:\(second) right after the reload: \(onSecond.map { "\($0.status) \($0.bodyString)" } ?? "no answer"); log:\n\(daemon.log)")

            // A request in flight on the address about to go.
            let inFlight = try RawClient(port: second)
            try inFlight.send(Lifecycle.get("/delay?ms=1500"))
            sleep(seconds: 0.3)
            try fixture.write(LifecycleTests.config(body: "C"))
            let remove = try daemon.reload()
            #expect(remove.status == 0, "\(remove.summary)")
            #expect(waitUntil(timeout: 1) { Lifecycle.refuses(port: second) }, "127.0.0.1:\(second) still accepts after the reload that dropped it")
            let late = try? inFlight.readResponse(timeout: 10)
            #expect(late?.status == 200 && late?.bodyString == "waited 1500 ms\n",
                    "the request in flight on the dropped address: \(late.map { "\($0.status) \($0.bodyString)" } ?? "no answer (closed: \(inFlight.closedByPeer))")")

            sleep(seconds: 0.3)
            let probes = prober.stop()
            #expect(probes.failures.isEmpty, "\(probes.failures.count) of \(probes.count) probes of the kept address failed: \(probes.failures.prefix(5))")
            #expect(probes.count >= 20, "only \(probes.count) probes ran")
            try keepAlive.send(Lifecycle.get("/gen"))
            let after = try keepAlive.readResponse()
            #expect(after.bodyString == "C\n", "the keep-alive connection opened before both reloads: \(after.statusLine) \(after.bodyString)")
            #expect(fixture.gen() == "C\n")
            #expect(daemon.stop() == .exited(0))
        }
    }
}

// MARK: - 7. Signals in bursts

extension LifecycleTests {
    @Suite("Signals")
    struct Signals {
        static func slowConfig(body: String, threads: Int, workers: Int) -> DaemonConfig {
            LifecycleTests.config(body: body, more: [
                "{ path: /t/sleep, handler: builtin.sleep, mode: thread }",
                "{ path: /p/sleep, handler: builtin.sleep, mode: process }",
            ], extra: """
                thread_pool: { size: \(threads), queue: 64 }
                process_pool: { size: \(workers), queue: 64 }
                """)
        }

        /// Guards "no signal, in any order or number, loses an accepted
        /// request": requests in flight in every mode (async delay, a pool
        /// thread, a worker process) while 50 SIGHUPs arrive over half a
        /// second — reloading to a config whose thread pool and workers are
        /// replaced — and then SIGTERM. Every one is answered 200 with its
        /// own body, at least one reload happened while they waited, and the
        /// daemon exits 0.
        @Test("a burst of SIGHUPs then SIGTERM: every request in flight is answered", .timeLimit(.minutes(1)))
        func burstThenTerm() throws {
            let fixture = try ReloadFixture(Self.slowConfig(body: "A", threads: 2, workers: 2))
            let daemon = fixture.daemon
            let targets = ["/delay?ms=2500", "/delay?ms=2500", "/t/sleep?ms=2500", "/t/sleep?ms=2500", "/p/sleep?ms=2500", "/p/sleep?ms=2500"]
            var clients: [RawClient] = []
            for target in targets {
                let client = try RawClient(port: fixture.port)
                try client.send(Lifecycle.get(target))
                clients.append(client)
            }
            sleep(seconds: 0.4)
            try fixture.write(Self.slowConfig(body: "B", threads: 3, workers: 3))
            for _ in 0..<50 {
                daemon.process.kill(SIGHUP)
                sleep(seconds: 0.01)
            }
            daemon.process.kill(SIGTERM)
            for (target, client) in zip(targets, clients) {
                do {
                    let response = try client.readResponse(timeout: 15)
                    let want = target.hasPrefix("/delay") ? "waited 2500 ms\n" : "slept 2500 ms\n"
                    #expect(response.status == 200 && response.bodyString == want, "\(target): \(response.statusLine) \(response.bodyString)")
                } catch {
                    Issue.record("\(target) in flight during the SIGHUP burst and SIGTERM: \(error); log:\n\(daemon.log)")
                }
            }
            #expect(daemon.process.waitOrKill(timeout: 20) == .exited(0), "log:\n\(daemon.log)")
            #expect(daemon.log.contains("reloaded: generation 2"), "no reload happened during the burst; log:\n\(daemon.log)")
        }

        /// Guards the end of a drain: an answer given after SIGTERM says
        /// `Connection: close` and the connection is closed after it, so the
        /// daemon exits as soon as its last request in flight is answered —
        /// not when shutdown_timeout_ms (10 s here) runs out because a
        /// keep-alive client (every pooling HTTP client) holds its
        /// connection open. Fails if the answer invites another request or
        /// the daemon outlives its last answer by more than 2 s.
        @Test("after SIGTERM the last answer closes its keep-alive connection and the daemon exits at once", .timeLimit(.minutes(1)))
        func drainEndsWithLastAnswer() throws {
            let fixture = try ReloadFixture(LifecycleTests.config(body: "A"))
            let daemon = fixture.daemon
            let client = try RawClient(port: fixture.port)
            try client.send(Lifecycle.get("/delay?ms=1000"))
            sleep(seconds: 0.3)
            let termAt = now()
            daemon.process.kill(SIGTERM)
            let response = try client.readResponse(timeout: 10)
            let answeredAt = now()
            #expect(response.status == 200 && response.bodyString == "waited 1000 ms\n", "\(response.statusLine) \(response.bodyString)")
            #expect(response.saysClose, "the answer given while draining does not say Connection: close: \(visible(response.raw))")
            let (_, closed) = client.readUntilClosed(timeout: 2)
            #expect(closed, "the connection was still open 2 s after the last answer of the drain")
            let exit = daemon.process.wait(timeout: 4)
            #expect(exit == .exited(0), "exit: \(exit.map { "\($0)" } ?? "still running \(ms(now() - answeredAt)) after the last answer (SIGTERM \(ms(now() - termAt)) ago)"); log:\n\(daemon.log)")
        }

        /// Guards the operator's way out: a second SIGTERM while the drain
        /// waits for a long request exits at once, with status 1.
        @Test("a second SIGTERM mid-drain exits at once with status 1", .timeLimit(.minutes(1)))
        func secondTermExitsAtOnce() throws {
            let fixture = try ReloadFixture(LifecycleTests.config(body: "A"))
            let daemon = fixture.daemon
            let client = try RawClient(port: fixture.port)
            try client.send(Lifecycle.get("/delay?ms=8000"))
            sleep(seconds: 0.3)
            daemon.process.kill(SIGTERM)
            sleep(seconds: 0.7)
            #expect(daemon.process.isRunning, "the daemon did not wait for the request in flight; log:\n\(daemon.log)")
            let second = now()
            daemon.process.kill(SIGTERM)
            let exit = daemon.process.wait(timeout: 5)
            #expect(exit == .exited(1), "exit after the second SIGTERM: \(exit.map { "\($0)" } ?? "still running after 5 s"); log:\n\(daemon.log)")
            #expect(now() - second < 2, "exited \(ms(now() - second)) after the second SIGTERM")
            #expect(daemon.log.contains("second SIGTERM"), "log:\n\(daemon.log)")
        }
    }
}

// MARK: - Pools and workers across reloads

extension LifecycleTests {
    @Suite("Pools and workers across reloads")
    struct PoolsAcrossReloads {
        static func config(body: String, threads: Int, workers: Int) -> DaemonConfig {
            LifecycleTests.config(body: body, more: [
                "{ path: /t/echo, handler: builtin.echo, mode: thread }",
                "{ path: /p/echo, handler: builtin.echo, mode: process }",
                "{ path: /p/sleep, handler: builtin.sleep, mode: process }",
            ], extra: """
                thread_pool: { size: \(threads), queue: 64 }
                process_pool: { size: \(workers), queue: 64 }
                """)
        }

        /// The daemon's pool threads: thread id → name.
        static func poolThreads(_ pid: Int32) -> [Int32: String] {
            let dir = "/proc/\(pid)/task"
            var found: [Int32: String] = [:]
            for task in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                guard let tid = Int32(task), let comm = try? String(contentsOfFile: "\(dir)/\(task)/comm", encoding: .utf8) else { continue }
                let name = comm.trimmingCharacters(in: .whitespacesAndNewlines)
                if name.hasPrefix("sy-pool-") { found[tid] = name }
            }
            return found
        }

        /// Guards what a reload does to pools and workers. A reload that
        /// changes only a body keeps both: the same pool thread ids, the same
        /// worker pids. A reload that changes their sizes replaces both: the
        /// new workers serve at once, a job running on an old worker still
        /// gets its answer, and then the old workers exit and the old pool's
        /// threads end (within 5 s), leaving exactly the new sizes. Fails if
        /// a reload needlessly restarts workers, or if old pools and workers
        /// are never let go (a leak of threads and processes per reload).
        @Test("unchanged pools and workers are kept; changed ones replaced, and the old ones exit", .timeLimit(.minutes(1)))
        func keptOrReplaced() throws {
            let fixture = try ReloadFixture(Self.config(body: "A", threads: 2, workers: 2))
            let daemon = fixture.daemon
            let workers0 = Set(ModeProc.waitForWorkers(of: daemon.pid, count: 2).map(\.pid))
            #expect(workers0.count == 2)
            #expect((try? Lifecycle.get(port: fixture.port, "/t/echo"))?.status == 200)
            let threads0 = Self.poolThreads(daemon.pid)
            #expect(threads0.count == 2, "pool threads at start: \(threads0)")

            try fixture.write(Self.config(body: "B", threads: 2, workers: 2))
            let same = try daemon.reload()
            #expect(same.status == 0, "\(same.summary)")
            #expect(fixture.gen() == "B\n")
            sleep(seconds: 0.5)
            let workers1 = Set(ModeProc.workers(of: daemon.pid).map(\.pid))
            #expect(workers1 == workers0, "workers were restarted by a reload that did not change them: \(workers0.sorted()) → \(workers1.sorted())")
            #expect(Self.poolThreads(daemon.pid) == threads0, "the thread pool was replaced by a reload that did not change it")

            // A job on an old worker while the workers are replaced.
            let inFlight = try RawClient(port: fixture.port)
            try inFlight.send(Lifecycle.get("/p/sleep?ms=1500"))
            sleep(seconds: 0.3)
            try fixture.write(Self.config(body: "C", threads: 3, workers: 1))
            let changed = try daemon.reload()
            #expect(changed.status == 0, "\(changed.summary)")
            let echo = try? Lifecycle.get(port: fixture.port, "/p/echo")
            let pidText = echo.flatMap { try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: Any] }?["pid"] as? Int
            #expect(pidText.map { !workers0.contains(Int32($0)) } == true, "/p/echo right after the reload ran in pid \(pidText.map(String.init) ?? "?"), old workers \(workers0.sorted())")
            let late = try? inFlight.readResponse(timeout: 10)
            #expect(late?.status == 200 && late?.bodyString == "slept 1500 ms\n", "the job on the old worker: \(late.map { "\($0.status) \($0.bodyString)" } ?? "no answer")")

            var workersNow: [ModeProc.Stat] = []
            var threadsNow: [Int32: String] = [:]
            let settled = waitUntil(timeout: 5) {
                workersNow = ModeProc.workers(of: daemon.pid)
                threadsNow = Self.poolThreads(daemon.pid)
                return workersNow.count == 1 && workersNow.allSatisfy { !workers0.contains($0.pid) }
                    && threadsNow.count == 3 && threadsNow.keys.allSatisfy { threads0[$0] == nil }
            }
            #expect(settled, "5 s after the old worker's last job: workers \(workersNow.map { "\($0.pid) \($0.comm)" }) (old ones: \(workers0.sorted()); want 1 new), pool threads \(threadsNow.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }) (old ones: \(threads0.keys.sorted()); want 3 new)")
            #expect(daemon.stop() == .exited(0))
        }
    }
}
