import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Living like a systemd service (issue 13, items 8 and 9), end to end: the
/// real binary, a real NOTIFY_SOCKET (a unix datagram socket this process
/// binds), real signals, real sockets passed as fd 3, the log read back from
/// the daemon's stderr.
///
/// Every suite of these tests is nested in this one and it is serialized:
/// the watchdog test times pings, and the zero-downtime test puts the two
/// cores under load; they must not run alongside each other.
/// Run them all with `swift test --filter LifecycleTests`.
@Suite("Service lifecycle", .serialized)
struct LifecycleTests {
    /// A config whose `/gen` answers `body`, plus `/readyz`, and `more` routes.
    static func config(body: String, listen: [String] = ["127.0.0.1:0"], more: [String] = [], extra: String = "") -> DaemonConfig {
        var config = DaemonConfig(listen: listen, eventLoops: 1)
        config.routes = [
            #"{ path: /gen, handler: builtin.text, mode: sync, options: { body: "\#(body)\n" } }"#,
            "{ path: /readyz, handler: builtin.ready, mode: sync }",
            "{ path: /delay, handler: builtin.delay, mode: async }",
        ] + more
        config.extra = extra
        return config
    }

    /// `config HASH` out of a STATUS= line or `switchyard reload`'s output.
    static func hash(in text: String) -> String? {
        guard let range = text.range(of: "config ") else { return nil }
        let hex = text[range.upperBound...].prefix { $0.isHexDigit }
        return hex.isEmpty ? nil : String(hex)
    }
}

// MARK: - 1. The notification sequence

extension LifecycleTests {
    @Suite("sd_notify sequence")
    struct NotifySequence {
        enum Trigger: String, CaseIterable, CustomTestStringConvertible, Sendable {
            case sighup, reloadCommand
            var testDescription: String { self == .sighup ? "SIGHUP" : "switchyard reload" }
        }

        /// Guards the order systemd's Type=notify-reload needs: READY=1 once
        /// serving; on a reload RELOADING=1 with MONOTONIC_USEC= (the
        /// daemon's CLOCK_MONOTONIC in µs, so it must lie between our signal
        /// and the datagram's arrival on the same clock) and STATUS=, then
        /// READY=1 with a STATUS= naming generation 2, the new hash and "ok";
        /// STOPPING=1 on SIGTERM; nothing else in between; exit 0. Fails if a
        /// message is missing, out of order, doubled, or MONOTONIC_USEC is
        /// another clock (realtime) or unit (ms, ns).
        @Test("READY → RELOADING (MONOTONIC_USEC) → READY → STOPPING", .timeLimit(.minutes(1)),
              arguments: Trigger.allCases)
        func sequence(trigger: Trigger) throws {
            let dir = try E2E.makeTempDir()
            defer { try? FileManager.default.removeItem(at: dir) }
            let notify = try Lifecycle.NotifyRecorder(path: dir.appendingPathComponent("notify.sock").path)
            let configPath = dir.appendingPathComponent("switchyard.yaml").path
            let control = dir.appendingPathComponent("control.sock").path
            try LifecycleTests.config(body: "A").yaml(controlPath: control).write(toFile: configPath, atomically: true, encoding: .utf8)
            let daemon = try Lifecycle.Service(dir: dir, configPath: configPath, environment: ["NOTIFY_SOCKET": notify.path])
            defer { daemon.stop() }

            var index = 0
            let ready = try #require(notify.nextLifecycle(after: &index, timeout: 20), "no notification within 20 s; log:\n\(daemon.log)")
            #expect(ready.kind == "READY", "\(ready)")
            let firstStatus = ready.value("STATUS") ?? ""
            #expect(firstStatus.hasPrefix("generation 1 (config "), "\(ready)")
            let firstHash = LifecycleTests.hash(in: firstStatus)

            try LifecycleTests.config(body: "B").yaml(controlPath: control).write(toFile: configPath, atomically: true, encoding: .utf8)
            let triggeredAt = now()
            switch trigger {
            case .sighup:
                daemon.process.kill(SIGHUP)
            case .reloadCommand:
                let run = try daemon.reload()
                #expect(run.status == 0, "\(run.summary)")
            }

            let reloading = try #require(notify.nextLifecycle(after: &index, timeout: 20), "no notification after the reload; log:\n\(daemon.log)")
            #expect(reloading.kind == "RELOADING", "\(reloading)")
            #expect(reloading.value("STATUS") == "reloading: generation 2", "\(reloading)")
            let usecText = reloading.value("MONOTONIC_USEC") ?? ""
            let usec = try #require(UInt64(usecText), "MONOTONIC_USEC=\(usecText.debugDescription) in \(reloading)")
            let stamped = Double(usec) / 1e6
            // The same clock as ours: after we triggered, before it arrived (5 ms slack for rounding).
            #expect(stamped >= triggeredAt - 0.005 && stamped <= reloading.at + 0.005,
                    "MONOTONIC_USEC \(usec) = \(stamped) s; we triggered at \(triggeredAt) s, it arrived at \(reloading.at) s (CLOCK_MONOTONIC)")

            let readyAgain = try #require(notify.nextLifecycle(after: &index, timeout: 20), "no READY=1 after RELOADING=1; log:\n\(daemon.log)")
            #expect(readyAgain.kind == "READY", "\(readyAgain)")
            let status = readyAgain.value("STATUS") ?? ""
            #expect(status.hasPrefix("generation 2 (config "), "\(readyAgain)")
            #expect(status.contains("last reload ") && status.hasSuffix(" ok"), "\(readyAgain)")
            #expect(LifecycleTests.hash(in: status) != nil && LifecycleTests.hash(in: status) != firstHash,
                    "the hash did not change with the config: \(firstStatus) → \(status)")
            #expect(try Lifecycle.get(port: daemon.port, "/gen").bodyString == "B\n")

            daemon.process.kill(SIGTERM)
            let stopping = try #require(notify.nextLifecycle(after: &index, timeout: 20), "no notification after SIGTERM; log:\n\(daemon.log)")
            #expect(stopping.kind == "STOPPING", "\(stopping)")
            #expect(daemon.process.waitOrKill(timeout: 20) == .exited(0), "log:\n\(daemon.log)")
            sleep(seconds: 0.1)
            let kinds = notify.lifecycle.map(\.kind)
            #expect(kinds == ["READY", "RELOADING", "READY", "STOPPING"], "every notification: \(notify.messages)")
        }
    }
}

// MARK: - 4. Watchdog

extension LifecycleTests {
    @Suite("Watchdog")
    struct WatchdogPings {
        /// Guards the watchdog as systemd runs it: with WATCHDOG_USEC=1 s the
        /// loops send WATCHDOG=1 about every 0.5 s; a sync handler that holds
        /// the only loop for 3 s stops them (systemd would then kill a truly
        /// hung daemon), they resume once it returns, and the log names the
        /// route that held the loop. Fails if pings come from a timer thread
        /// that keeps going while the loop is stuck, if they never come, or if
        /// the stall is not logged with its route.
        @Test("pings every ~0.5 s; none while a sync handler holds the loop; the log names the route",
              .timeLimit(.minutes(1)))
        func pingsStopWhileLoopIsHeld() throws {
            let dir = try E2E.makeTempDir()
            defer { try? FileManager.default.removeItem(at: dir) }
            let notify = try Lifecycle.NotifyRecorder(path: dir.appendingPathComponent("notify.sock").path)
            let configPath = dir.appendingPathComponent("switchyard.yaml").path
            let config = LifecycleTests.config(body: "A", more: ["{ path: /sleep, handler: builtin.sleep, mode: sync }"])
            try config.yaml(controlPath: dir.appendingPathComponent("control.sock").path).write(toFile: configPath, atomically: true, encoding: .utf8)
            let daemon = try Lifecycle.Service(dir: dir, configPath: configPath,
                                               environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"])
            defer { daemon.stop() }
            let ready = try #require(notify.wait(timeout: 20) { $0.kind == "READY" }, "no READY=1; log:\n\(daemon.log)")

            // Idle: pings about every 0.5 s.
            sleep(seconds: 3)
            let idle = notify.watchdogPings.filter { $0.at > ready.at }.map(\.at)
            #expect(idle.count >= 4, "\(idle.count) pings in 3 s of idling (want about 6); log:\n\(daemon.log)")
            let gaps = zip(idle.dropFirst(), idle).map { $0 - $1 }.sorted()
            if !gaps.isEmpty {
                let median = gaps[gaps.count / 2]
                #expect(median >= 0.35 && median <= 1.0, "median interval \(ms(median)) between pings (want ~500 ms): \(gaps.map { ms($0) })")
                #expect(gaps.last! < 1.6, "a gap of \(ms(gaps.last!)) between idle pings")
            }

            // A sync handler holds the only loop for 3 s.
            let client = try RawClient(port: daemon.port)
            let sentAt = now()
            try client.send(Lifecycle.get("/sleep?ms=3000"))
            let response = try client.readResponse(timeout: 20)
            let answeredAt = now()
            #expect(response.status == 200 && response.bodyString == "slept 3000 ms\n", "\(response.statusLine) \(response.bodyString)")
            #expect(answeredAt - sentAt >= 2.9, "GET /sleep?ms=3000 answered after \(ms(answeredAt - sentAt))")
            sleep(seconds: 2.5)

            let pings = notify.watchdogPings.map(\.at)
            let during = pings.filter { $0 > sentAt + 0.6 && $0 < answeredAt - 0.2 }
            #expect(during.isEmpty, "WATCHDOG=1 while the loop was held (\(ms(sentAt)) … \(ms(answeredAt))): at \(during.map { ms($0 - sentAt) }) after the request")
            let before = pings.last { $0 <= sentAt + 0.6 } ?? ready.at
            let after = pings.first { $0 > sentAt + 0.6 }
            let gap = (after ?? now()) - before
            #expect(gap >= 2.0, "the longest silence around the held loop was only \(ms(gap))")
            let resumed = pings.filter { $0 > answeredAt && $0 <= answeredAt + 2.5 }
            #expect(resumed.count >= 2, "\(resumed.count) pings in the 2.5 s after the loop was free again (want ~5)")

            #expect(daemon.waitForLog("has not turned for", timeout: 5))
            let stall = daemon.logLines(containing: "has not turned for")
            #expect(stall.contains { $0.contains("sy-loop-0") && $0.contains("route /sleep (builtin.sleep, mode sync) holds it")
                                     && $0.contains("watchdog pings paused") && $0.contains("warning") },
                    "stall lines: \(stall); log:\n\(daemon.log)")
            #expect(daemon.stop() == .exited(0))
        }

        /// Guards WATCHDOG_PID: a watchdog meant for another process (here
        /// pid 1) is not ours to feed, as sd_watchdog_enabled(3) says; a
        /// daemon that pinged anyway would confuse the service manager.
        @Test("WATCHDOG_PID of another process: no pings", .timeLimit(.minutes(1)))
        func otherPidGetsNoPings() throws {
            let dir = try E2E.makeTempDir()
            defer { try? FileManager.default.removeItem(at: dir) }
            let notify = try Lifecycle.NotifyRecorder(path: dir.appendingPathComponent("notify.sock").path)
            let configPath = dir.appendingPathComponent("switchyard.yaml").path
            try LifecycleTests.config(body: "A").yaml(controlPath: dir.appendingPathComponent("control.sock").path)
                .write(toFile: configPath, atomically: true, encoding: .utf8)
            let daemon = try Lifecycle.Service(dir: dir, configPath: configPath,
                                               environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"])
            defer { daemon.stop() }
            #expect(notify.wait(timeout: 20) { $0.kind == "READY" } != nil, "no READY=1; log:\n\(daemon.log)")
            sleep(seconds: 1.5)
            #expect(notify.watchdogPings.isEmpty, "\(notify.watchdogPings.count) pings although WATCHDOG_PID=1")
            #expect(daemon.stop() == .exited(0))
        }
    }
}

// MARK: - 5. Socket activation

extension LifecycleTests {
    @Suite("Socket activation")
    struct SocketActivationTests {
        /// Guards socket activation as a socket unit does it: a listening
        /// socket as fd 3 with LISTEN_FDS=1, LISTEN_PID = the daemon's pid
        /// and LISTEN_FDNAMES=web. The daemon serves on it and logs it with
        /// its name, does not bind the config's own `listen:` address (nor a
        /// new one after a reload), and a SIGHUP reload keeps the passed
        /// socket: a prober connecting every few ms through the reload is
        /// never refused, reset or left unanswered, and the new config
        /// answers on the same socket. Our own copy of the socket is closed
        /// after the start, so a daemon that closed or replaced fd 3 would
        /// show refused connections.
        @Test("serves on fd 3, binds nothing of its own, keeps the socket across a SIGHUP reload",
              .timeLimit(.minutes(1)))
        func servesOnPassedSocket() throws {
            let dir = try E2E.makeTempDir()
            defer { try? FileManager.default.removeItem(at: dir) }
            let (socketFD, port) = try Lifecycle.listeningSocket()
            var ourCopyOpen = true
            defer { if ourCopyOpen { close(socketFD) } }
            let configured = try Lifecycle.freePort(), configuredLater = try Lifecycle.freePort()
            let configPath = dir.appendingPathComponent("switchyard.yaml").path
            let control = dir.appendingPathComponent("control.sock").path
            try LifecycleTests.config(body: "A", listen: ["127.0.0.1:\(configured)"]).yaml(controlPath: control)
                .write(toFile: configPath, atomically: true, encoding: .utf8)
            let notify = try Lifecycle.NotifyRecorder(path: dir.appendingPathComponent("notify.sock").path)
            let daemon = try Lifecycle.Service(dir: dir, configPath: configPath,
                                               environment: ["LISTEN_FDS": "1", "LISTEN_FDNAMES": "web", "NOTIFY_SOCKET": notify.path],
                                               passing: [socketFD])
            defer { daemon.stop() }
            close(socketFD)
            ourCopyOpen = false
            #expect(notify.wait(timeout: 20) { $0.kind == "READY" } != nil, "no READY=1; log:\n\(daemon.log)")

            #expect(daemon.listeners == ["127.0.0.1:\(port)"], "listening lines: \(daemon.listeners); log:\n\(daemon.log)")
            #expect(daemon.log.contains("listening on 127.0.0.1:\(port) (from systemd, web)"), "log:\n\(daemon.log)")
            let first = try Lifecycle.get(port: port, "/gen")
            #expect(first.status == 200 && first.bodyString == "A\n", "\(first.statusLine) \(first.bodyString)")
            #expect(Lifecycle.refuses(port: configured), "the config's listen address 127.0.0.1:\(configured) answers although a socket was passed")

            let prober = Lifecycle.Prober(port: port, target: "/gen")
            sleep(seconds: 0.3)
            try LifecycleTests.config(body: "B", listen: ["127.0.0.1:\(configuredLater)"]).yaml(controlPath: control)
                .write(toFile: configPath, atomically: true, encoding: .utf8)
            daemon.process.kill(SIGHUP)
            let swapped = waitUntil(timeout: 10) { (try? Lifecycle.get(port: port, "/gen").bodyString) == "B\n" }
            sleep(seconds: 0.3)
            let probes = prober.stop()
            #expect(swapped, "the passed socket never answered with the reloaded config; log:\n\(daemon.log)")
            #expect(probes.failures.isEmpty, "\(probes.failures.count) of \(probes.count) probes failed across the reload: \(probes.failures.prefix(5))")
            #expect(probes.count >= 20, "only \(probes.count) probes ran")
            #expect(probes.bodies.keys.allSatisfy { $0 == "A\n" || $0 == "B\n" }, "bodies: \(probes.bodies)")
            #expect(daemon.waitForLog("reloaded: generation 2", timeout: 2), "log:\n\(daemon.log)")
            #expect(Lifecycle.refuses(port: configuredLater), "the reloaded config's listen address was bound despite socket activation")
            #expect(Lifecycle.refuses(port: configured))
            #expect(daemon.stop() == .exited(0), "log:\n\(daemon.log)")
        }
    }
}

// MARK: - 8. Journal lines

extension LifecycleTests {
    @Suite("Logs for the journal")
    struct JournalLines {
        /// `DEV:INODE` of the file at `path`, as systemd sets JOURNAL_STREAM.
        static func journalStream(of path: String) throws -> String {
            var st = stat()
            guard stat(path, &st) == 0 else { throw E2EError("stat \(path): \(String(cString: strerror(errno)))") }
            return "\(st.st_dev):\(st.st_ino)"
        }

        static var timestamp: Regex<AnyRegexOutput> { try! Regex(#"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"#) }
        static var journalLine: Regex<AnyRegexOutput> { try! Regex(#"^<[0-7]>switchyard: \S"#) }
        static var plainLine: Regex<AnyRegexOutput> { try! Regex(#"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z (trace|debug|info|notice|warning|error|critical) switchyard: \S"#) }

        /// Starts a daemon whose stderr is `dir/daemon.log`, with `environment`;
        /// makes a reload fail, then one succeed; stops it. Returns its log lines.
        static func runThroughReloads(environment: (String) throws -> [String: String], listenPort: Int? = nil,
                                      logLevel: String? = nil) throws -> (lines: [String], exit: ChildProcess.Exit) {
            let dir = try E2E.makeTempDir()
            defer { try? FileManager.default.removeItem(at: dir) }
            let logPath = dir.appendingPathComponent("daemon.log").path
            FileManager.default.createFile(atPath: logPath, contents: nil)
            let configPath = dir.appendingPathComponent("switchyard.yaml").path
            let control = dir.appendingPathComponent("control.sock").path
            let listen = listenPort.map { ["127.0.0.1:\($0)"] } ?? ["127.0.0.1:0"]
            let extra = logLevel.map { "log_level: \($0)" } ?? ""
            try LifecycleTests.config(body: "A", listen: listen, extra: extra).yaml(controlPath: control)
                .write(toFile: configPath, atomically: true, encoding: .utf8)
            let daemon = try Lifecycle.Service(dir: dir, configPath: configPath, environment: try environment(logPath),
                                               expectedListeners: listenPort == nil ? 1 : 0)
            defer { daemon.stop() }
            let port = listenPort ?? daemon.port
            guard waitUntil(timeout: 20, { (try? Lifecycle.get(port: port, "/readyz"))?.status == 200 }) else {
                throw E2EError("the daemon did not answer on port \(port); log:\n\(daemon.log)")
            }
            try "routes: [ { path: /x, handler: builtin.nope } ]\n".write(toFile: configPath, atomically: true, encoding: .utf8)
            let bad = try daemon.reload()
            try LifecycleTests.config(body: "B", listen: listen, extra: extra).yaml(controlPath: control)
                .write(toFile: configPath, atomically: true, encoding: .utf8)
            let good = try daemon.reload()
            guard bad.status == 1, good.status == 0 else {
                throw E2EError("reloads: bad \(bad.summary); good \(good.summary); log:\n\(daemon.log)")
            }
            let exit = daemon.stop()
            return (daemon.log.split(separator: "\n").map(String.init), exit)
        }

        /// Guards the journal format: when JOURNAL_STREAM names the very file
        /// stderr is, every line starts with its syslog priority (`<6>` info,
        /// `<5>` notice, `<3>` error) and carries no timestamp of its own, so
        /// `journalctl -p warning` filters and the journal's time is the only
        /// one; signals are named. Fails on a doubled timestamp, a missing or
        /// wrong prefix, or a line that escaped the handler.
        @Test("JOURNAL_STREAM matching stderr: <N>switchyard: lines, no timestamps", .timeLimit(.minutes(1)))
        func priorityPrefixes() throws {
            let (lines, exit) = try Self.runThroughReloads(environment: { ["JOURNAL_STREAM": try Self.journalStream(of: $0)] })
            #expect(exit == .exited(0))
            #expect(!lines.isEmpty)
            let wrong = lines.filter { $0.firstMatch(of: Self.journalLine) == nil || $0.firstMatch(of: Self.timestamp) != nil }
            #expect(wrong.isEmpty, "lines that are not `<N>switchyard: …` without a timestamp: \(wrong)")
            #expect(lines.contains { $0.hasPrefix("<6>switchyard: listening on 127.0.0.1:") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("<3>switchyard: reload failed; generation 1 keeps serving: ") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("<5>switchyard: reloaded: generation 2, config ") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("<6>switchyard: SIGTERM: draining") }, "\(lines)")
        }

        /// Guards "fatal start errors go through the same handler": a daemon
        /// that cannot start under systemd writes its one line as
        /// `<2>switchyard: …` (critical) like every other line, not a bare
        /// print the journal would file at the default priority.
        @Test("a fatal start error under the journal is one <2>switchyard: line", .timeLimit(.minutes(1)))
        func fatalLineUnderJournal() throws {
            let dir = try E2E.makeTempDir()
            defer { try? FileManager.default.removeItem(at: dir) }
            let logPath = dir.appendingPathComponent("daemon.log").path
            FileManager.default.createFile(atPath: logPath, contents: nil)
            let missing = dir.appendingPathComponent("missing.yaml").path
            let child = try Lifecycle.SpawnedProcess([E2E.binaryPath, "serve", "--config", missing],
                                                     environment: E2E.childEnvironment(["JOURNAL_STREAM": try Self.journalStream(of: logPath)]),
                                                     logPath: logPath)
            let exit = child.waitOrKill(timeout: 20)
            let lines = Lifecycle.Service.read(logPath).split(separator: "\n")
            #expect(exit != .exited(0) && exit != .hung, "\(exit)")
            #expect(lines.count == 1 && lines.first?.hasPrefix("<2>switchyard: ") == true && lines.first?.contains(missing) == true,
                    "stderr: \(lines)")
        }

        /// Guards the other half of the rule: JOURNAL_STREAM inherited from a
        /// parent whose journal is not our stderr (here `0:0`) must not turn
        /// on prefixes; lines read `TIME LEVEL switchyard: …`.
        @Test("JOURNAL_STREAM naming another file: timestamped lines", .timeLimit(.minutes(1)))
        func plainWhenNotTheJournal() throws {
            let (lines, exit) = try Self.runThroughReloads(environment: { _ in ["JOURNAL_STREAM": "0:0"] })
            #expect(exit == .exited(0))
            let wrong = lines.filter { $0.firstMatch(of: Self.plainLine) == nil }
            #expect(wrong.isEmpty, "lines that are not `TIME LEVEL switchyard: …`: \(wrong)")
            #expect(lines.contains { $0.contains(" notice switchyard: reloaded: generation 2") }, "\(lines)")
        }

        /// Guards SWITCHYARD_LOG_LEVEL: `warning` hides info and notice lines
        /// (no `listening on`, no `reloaded`) but keeps errors (the failed
        /// reload), and wins over the config's `log_level: debug`, at start
        /// and after a reload.
        @Test("SWITCHYARD_LOG_LEVEL=warning hides info lines, over log_level: debug", .timeLimit(.minutes(1)))
        func levelFromEnvironment() throws {
            let port = try Lifecycle.freePort()
            let (lines, exit) = try Self.runThroughReloads(environment: { _ in ["SWITCHYARD_LOG_LEVEL": "warning"] },
                                                           listenPort: port, logLevel: "debug")
            #expect(exit == .exited(0))
            let quiet = lines.filter { $0.contains(" info ") || $0.contains(" notice ") || $0.contains(" debug ") || $0.contains(" trace ") }
            #expect(quiet.isEmpty, "lines below warning: \(quiet)")
            #expect(lines.contains { $0.contains(" error switchyard: reload failed; generation 1 keeps serving") }, "\(lines)")
        }
    }
}

// MARK: - 7. Start failures

extension LifecycleTests {
    @Suite("Start failures")
    struct StartFailures {
        /// Runs `serve --config path` to its end with a NOTIFY_SOCKET.
        static func failToStart(_ configPath: String, dir: URL) throws -> (result: ProcessResult, errno: String?, notify: [String]) {
            let notify = try Lifecycle.NotifyRecorder(path: dir.appendingPathComponent("notify.sock").path)
            let result = try runProcess(E2E.binaryPath, ["serve", "--config", configPath], timeout: 30,
                                        environment: E2E.childEnvironment(["NOTIFY_SOCKET": notify.path, "RUNTIME_DIRECTORY": dir.path]))
            let message = notify.wait(timeout: 2) { $0.value("ERRNO") != nil }
            return (result, message?.value("ERRNO"), notify.messages.map(\.text))
        }

        /// Guards a missing config file at start: exit non-zero with exactly
        /// one line on stderr naming the file, nothing on stdout, and
        /// ERRNO=2 (ENOENT) on the notify socket, so `systemctl status`
        /// shows why; never a silent fallback to the embedded default.
        @Test("missing config: one line, exit non-zero, ERRNO=2", .timeLimit(.minutes(1)))
        func missingConfig() throws {
            let dir = try E2E.makeTempDir()
            defer { try? FileManager.default.removeItem(at: dir) }
            let path = dir.appendingPathComponent("missing.yaml").path
            let (result, errno, notify) = try Self.failToStart(path, dir: dir)
            #expect(result.status != 0 && !result.timedOut, "exit \(result.status); output: \(result.output)")
            let lines = result.stderrString.split(separator: "\n")
            #expect(lines.count == 1 && lines.first?.contains(path) == true, "stderr: \(result.stderrString.debugDescription)")
            #expect(result.stdoutString.isEmpty, "stdout: \(result.stdoutString.debugDescription)")
            #expect(errno == "2", "notifications: \(notify)")
            #expect(!notify.contains { $0.contains("READY=1") }, "READY=1 from a daemon that did not start: \(notify)")
        }

        /// Guards an invalid config at start: exit non-zero, one line with
        /// FILE:LINE:COL, ERRNO=22 (EINVAL).
        @Test("invalid config: one line with file:line:col, exit non-zero, ERRNO=22", .timeLimit(.minutes(1)))
        func invalidConfig() throws {
            let dir = try E2E.makeTempDir()
            defer { try? FileManager.default.removeItem(at: dir) }
            let path = dir.appendingPathComponent("bad.yaml").path
            try "listen: [\"127.0.0.1:0\"]\nroutes:\n  - { path: /x, handler: builtin.nope }\n".write(toFile: path, atomically: true, encoding: .utf8)
            let (result, errno, notify) = try Self.failToStart(path, dir: dir)
            #expect(result.status != 0 && !result.timedOut, "exit \(result.status); output: \(result.output)")
            let lines = result.stderrString.split(separator: "\n")
            #expect(lines.count == 1 && lines.first?.contains("\(path):3:26: error:") == true, "stderr: \(result.stderrString.debugDescription)")
            #expect(errno == "22", "notifications: \(notify)")
        }
    }
}
