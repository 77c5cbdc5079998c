import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

// Zero-downtime proof (issue 13, item 9): continuous keep-alive load — GETs,
// POSTs with bodies, thread-mode and process-mode requests — from several
// connections while 20 reloads alternate two configs and 3 invalid ones land
// in between. Nested in `LifecycleTests`, which runs its suites one at a time.

extension LifecycleTests {
    @Suite("Zero-downtime reloads")
    struct ZeroDowntime {
        /// One valid config. A and B alternate; each also carries its serial
        /// (0 at start, 1…20 after each reload) in what it answers, so every
        /// answer names the generation that produced it: `/gen` and `/post`
        /// answer `config S L`, `/t/cpu` and `/p/cpu` run the CPU job for
        /// 1000+S and 2000+S rounds, `/echo` runs in pool `alpha` (A) or
        /// `beta` (B), whose thread names it reports. The default thread
        /// pool's size changes every 4 reloads and the worker count every 3,
        /// so some reloads keep the default pool and others replace it; the
        /// worker processes are replaced at every reload (their handlers'
        /// options change).
        struct Variant {
            let serial: Int
            var label: String { serial % 2 == 0 ? "A" : "B" }
            var pool: String { serial % 2 == 0 ? "alpha" : "beta" }
            var threads: Int { (serial / 4) % 2 == 0 ? 2 : 3 }
            var workers: Int { (serial / 3) % 2 == 0 ? 1 : 2 }
            var text: String { "config \(serial) \(label)\n" }

            func yaml(control: String) -> String {
                var config = DaemonConfig(listen: ["127.0.0.1:0"], eventLoops: 2)
                config.routes = [
                    #"{ path: /gen, handler: builtin.text, mode: sync, options: { body: "config \#(serial) \#(label)\n" } }"#,
                    #"{ path: /post, methods: [POST], handler: builtin.text, mode: sync, options: { body: "config \#(serial) \#(label)\n" } }"#,
                    "{ path: /echo, methods: [POST], handler: builtin.echo, mode: thread, pool: \(pool) }",
                    "{ path: /t/cpu, handler: builtin.cpu, mode: thread, options: { rounds: \(1000 + serial) } }",
                    "{ path: /p/cpu, handler: builtin.cpu, mode: process, options: { rounds: \(2000 + serial) } }",
                    "{ path: /p/echo, methods: [POST], handler: builtin.echo, mode: process }",
                    "{ path: /readyz, handler: builtin.ready, mode: sync }",
                ]
                config.extra = """
                    thread_pool: { size: \(threads), queue: 1024 }
                    thread_pools: { \(pool): { size: 2, queue: 1024 } }
                    process_pool: { size: \(workers), queue: 1024 }
                    """
                return config.yaml(controlPath: control)
            }
        }

        /// Three invalid configs: a pool that does not exist, a route defined
        /// twice, and a file cut short mid-write.
        static func invalid(_ which: Int, control: String) -> String {
            let head = "listen: [\"127.0.0.1:0\"]\nevent_loops: 2\ncontrol: \"\(control)\"\nroutes:\n"
            switch which {
            case 0: return head + "  - { path: /gen, handler: builtin.text, mode: sync }\n  - { path: /t/cpu, handler: builtin.cpu, mode: thread, pool: nosuch }\n"
            case 1: return head + "  - { path: /gen, handler: builtin.text, mode: sync }\n  - { path: /gen, handler: builtin.echo, mode: sync }\n"
            default: return head + "  - { path: /gen, handler: builtin.text, mode: sync\n"
            }
        }

        /// What an answer says about the config that produced it.
        enum Identity: CustomStringConvertible {
            case serial(Int)
            /// Only A (0) or B (1) is known: the echo's pool thread.
            case parity(Int)
            /// Same in every config (the process-mode echo).
            case any
            var description: String {
                switch self {
                case .serial(let s): return "serial \(s)"
                case .parity(let p): return p == 0 ? "A" : "B"
                case .any: return "any"
                }
            }
        }

        enum Kind: String, CaseIterable {
            case get, postText, echoThread, threadCPU, processCPU, processEcho, mixed
        }

        struct Record {
            var target: String
            var sentAt: Double
            var answeredAt: Double
            var identity: Identity
        }

        /// One keep-alive connection sending requests back to back from its
        /// own thread until told to stop; never reconnects, so a reset or a
        /// close shows as a failure.
        final class LoadConnection: @unchecked Sendable {
            let kind: Kind
            let daemonPid: Int32
            private let client: RawClient
            private let stop: Atomic<Bool>
            private(set) var records: [Record] = []
            private(set) var failures: [String] = []
            private var job: Lifecycle.Job?
            private var rng: UInt64
            private var turn = 0
            static let cpuSerials: [String: Int] = {
                var map: [String: Int] = [:]
                for s in 0...20 {
                    map[Lifecycle.cpuJob(rounds: 1000 + s)] = s
                    map[Lifecycle.cpuJob(rounds: 2000 + s)] = s
                }
                return map
            }()

            init(kind: Kind, port: Int, daemonPid: Int32, seed: UInt64) throws {
                self.kind = kind
                self.daemonPid = daemonPid
                client = try RawClient(port: port)
                stop = Atomic(false)
                rng = seed | 1
                _ = Self.cpuSerials
            }

            func start() { job = Lifecycle.Job("load-\(kind.rawValue)") { [self] in run() } }

            func finish(timeout: Double) -> Bool {
                stop.store(true, ordering: .relaxed)
                return job?.join(timeout: timeout) ?? true
            }

            private func randomBody() -> [UInt8] {
                rng = rng &* 6364136223846793005 &+ 1442695040888963407
                let size = 1 + Int((rng >> 33) % 12_000)
                let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,-_".utf8)
                var body = [UInt8](repeating: 0, count: size)
                var x = rng
                for i in 0..<size {
                    x = x &* 2862933555777941757 &+ 3037000493
                    body[i] = alphabet[Int((x >> 40) % UInt64(alphabet.count))]
                }
                return body
            }

            private func run() {
                while !stop.load(ordering: .relaxed) {
                    var current = kind
                    if kind == .mixed {
                        current = Kind.allCases[turn % (Kind.allCases.count - 1)]
                        turn += 1
                    }
                    if !oneRequest(current) { return }
                }
            }

            /// False once the connection is unusable.
            private func oneRequest(_ kind: Kind) -> Bool {
                let target: String
                var body: [UInt8]? = nil
                switch kind {
                case .get: target = "/gen"
                case .postText: target = "/post"; body = randomBody()
                case .echoThread: target = "/echo"; body = randomBody()
                case .threadCPU: target = "/t/cpu"
                case .processCPU: target = "/p/cpu"
                case .processEcho: target = "/p/echo"; body = randomBody()
                case .mixed: return true
                }
                let sentAt = now()
                do {
                    if let body {
                        try client.send("POST \(target) HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: \(body.count)\r\n\r\n")
                        try client.send(body)
                    } else {
                        try client.send(Lifecycle.get(target))
                    }
                    let response = try client.readResponse(timeout: 20)
                    let answeredAt = now()
                    guard response.status == 200 else {
                        failures.append("\(target): status \(response.status) \(response.bodyString.prefix(200))")
                        return true
                    }
                    if response.saysClose { failures.append("\(target): the answer says Connection: close") }
                    guard let identity = identify(kind, response, sent: body) else { return true }
                    records.append(Record(target: target, sentAt: sentAt, answeredAt: answeredAt, identity: identity))
                    return !response.saysClose
                } catch {
                    failures.append("\(target) sent at \(String(format: "%.3f", sentAt)): \(error) (connection \(client.sawReset ? "reset" : client.sawEOF ? "closed" : "open"))")
                    return false
                }
            }

            private func identify(_ kind: Kind, _ response: HTTPResponse, sent body: [UInt8]?) -> Identity? {
                let text = response.bodyString
                switch kind {
                case .get, .postText:
                    let parts = text.split(separator: " ")
                    guard text.hasSuffix("\n"), parts.count == 3, parts[0] == "config", let serial = Int(parts[1]),
                          String(parts[2].dropLast()) == (serial % 2 == 0 ? "A" : "B") else {
                        failures.append("\(kind): unexpected body \(text.debugDescription)")
                        return nil
                    }
                    return .serial(serial)
                case .threadCPU, .processCPU:
                    guard let serial = Self.cpuSerials[text] else {
                        failures.append("\(kind): unexpected body \(text.debugDescription)")
                        return nil
                    }
                    let offset = Lifecycle.cpuJob(rounds: (kind == .threadCPU ? 1000 : 2000) + serial) == text
                    if !offset { failures.append("\(kind): the answer \(text) is the other mode's route's"); return nil }
                    return .serial(serial)
                case .echoThread, .processEcho:
                    guard let json = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
                          let echoed = json["body"] as? String, let thread = json["thread"] as? String,
                          let pid = json["pid"] as? Int else {
                        failures.append("\(kind): not the echo's JSON: \(text.prefix(300).debugDescription)")
                        return nil
                    }
                    if echoed.utf8.count != body?.count || Array(echoed.utf8) != body {
                        failures.append("\(kind): the echoed body (\(echoed.utf8.count) bytes) is not the \(body?.count ?? 0) bytes sent")
                        return nil
                    }
                    if kind == .processEcho {
                        guard thread.hasPrefix("sy-worker-"), pid != Int(daemonPid) else {
                            failures.append("processEcho ran on \(thread) in pid \(pid) (daemon \(daemonPid))")
                            return nil
                        }
                        return .any
                    }
                    if thread.hasPrefix("sy-pool-alpha-") { return .parity(0) }
                    if thread.hasPrefix("sy-pool-beta-") { return .parity(1) }
                    failures.append("echoThread ran on \(thread)")
                    return nil
                case .mixed:
                    return nil
                }
            }

            func closeConnection() { client.shutdownWrite() }
        }

        /// The serials allowed for a request sent at `t`: reloads ended
        /// before it set the current one; one in progress allows both.
        static func allowedSerials(at t: Double, reloads: [(start: Double, end: Double)]) -> [Int] {
            var k = 0
            while k < reloads.count, reloads[k].end <= t { k += 1 }
            if k < reloads.count, reloads[k].start <= t { return [k, k + 1] }
            return [k]
        }

        /// Guards the issue's central promise. While 8 keep-alive connections
        /// send back to back — GETs, POSTs with bodies of up to 12 KB (head
        /// and body in separate writes), echoes in a named thread pool, CPU
        /// jobs in the default pool and in worker processes, echoes in
        /// workers, and one connection mixing all of them — 20 `switchyard
        /// reload`s alternate configs A and B (replacing named pools, the
        /// default pool at some, the workers at all) and 3 invalid configs
        /// are refused (exit 1) in between. Fails on any failed request,
        /// any non-200, any reset or closed connection, an echo that lost
        /// bytes, an answer from a config other than the one current when
        /// the request was sent (either one while a reload was in progress),
        /// or a connection that saw an older config after a newer one. After
        /// the load, the old pools' threads and workers must be gone.
        @Test("20 reloads and 3 invalid ones under keep-alive load: nothing lost, every answer from the right generation",
              .timeLimit(.minutes(2)))
        func reloadsUnderLoad() throws {
            let dir = try E2E.makeTempDir()
            defer { try? FileManager.default.removeItem(at: dir) }
            let control = dir.appendingPathComponent("control.sock").path
            let configPath = dir.appendingPathComponent("switchyard.yaml").path
            try Variant(serial: 0).yaml(control: control).write(toFile: configPath, atomically: true, encoding: .utf8)
            let daemon = try Lifecycle.Service(dir: dir, configPath: configPath)
            defer { daemon.stop() }
            guard waitUntil(timeout: 20, { (try? Lifecycle.get(port: daemon.port, "/p/cpu"))?.status == 200 }) else {
                Issue.record("the daemon did not answer /p/cpu; log:\n\(daemon.log)")
                return
            }

            var connections: [LoadConnection] = []
            for (i, kind) in (Kind.allCases + [.get]).enumerated() {
                connections.append(try LoadConnection(kind: kind, port: daemon.port, daemonPid: daemon.pid, seed: UInt64(i + 1) * 7919))
            }
            for connection in connections { connection.start() }
            sleep(seconds: 0.5)

            let deadline = now() + 70
            var reloads: [(start: Double, end: Double)] = []
            var reloadProblems: [String] = []
            let invalidAfter = [4: 0, 11: 1, 17: 2]
            for serial in 1...20 where now() < deadline {
                try Lifecycle.writeByRename(Variant(serial: serial).yaml(control: control), to: configPath)
                let run = try daemon.reload()
                reloads.append((run.started, run.ended))
                if run.status != 0 || !run.result.stdoutString.hasPrefix("switchyard reload: generation \(serial + 1), ") {
                    reloadProblems.append("reload to serial \(serial): \(run.summary)")
                }
                if let which = invalidAfter[serial] {
                    try Lifecycle.writeByRename(Self.invalid(which, control: control), to: configPath)
                    let bad = try daemon.reload()
                    if bad.status != 1 || !bad.result.stderrString.contains("\(configPath):") || !bad.result.stderrString.contains(": error:") {
                        reloadProblems.append("invalid config \(which): \(bad.summary)")
                    }
                }
                sleep(seconds: 0.15)
            }
            sleep(seconds: 0.5)
            var stuck: [String] = []
            for connection in connections where !connection.finish(timeout: 30) { stuck.append(connection.kind.rawValue) }
            for connection in connections { connection.closeConnection() }

            #expect(reloads.count == 20, "only \(reloads.count) reloads within 70 s")
            #expect(reloadProblems.isEmpty, "\(reloadProblems)")
            #expect(stuck.isEmpty, "connections still waiting for an answer 30 s after the load stopped: \(stuck)")

            var total = 0, duringReloads = 0
            var failures: [String] = []
            var wrongGeneration: [String] = []
            var backwards: [String] = []
            for connection in connections {
                failures += connection.failures.map { "\(connection.kind): \($0)" }
                var last = 0
                var seen = Set<Int>()
                for record in connection.records {
                    total += 1
                    let allowed = Self.allowedSerials(at: record.sentAt, reloads: reloads)
                    if allowed.count > 1 { duringReloads += 1 }
                    let serial: Int?
                    switch record.identity {
                    case .serial(let s): serial = allowed.contains(s) ? s : nil
                    case .parity(let p): serial = allowed.first { $0 % 2 == p }
                    case .any: serial = allowed.last
                    }
                    guard let serial else {
                        wrongGeneration.append("\(connection.kind) \(record.target) sent at \(String(format: "%.3f", record.sentAt)): answered by \(record.identity), allowed \(allowed)")
                        continue
                    }
                    if case .any = record.identity {} else {
                        if serial < last {
                            backwards.append("\(connection.kind) \(record.target): serial \(serial) after \(last)")
                        }
                        last = max(last, serial)
                        seen.insert(serial)
                    }
                }
                // Each connection lived through the reloads: it saw many configs.
                if connection.kind != .processEcho {
                    #expect(seen.count >= 10, "\(connection.kind) saw only configs \(seen.sorted()) in \(connection.records.count) answers")
                }
                #expect(connection.records.count >= 20, "\(connection.kind) completed only \(connection.records.count) requests")
            }
            let windows = reloads.map { String(format: "%.3f–%.3f", $0.start, $0.end) }
            #expect(failures.isEmpty, "\(failures.count) failed requests or connections: \(failures.prefix(10)); log:\n\(daemon.log.suffix(4000))")
            #expect(wrongGeneration.isEmpty, "\(wrongGeneration.count) of \(total) answers from the wrong config: \(wrongGeneration.prefix(10)); reloads: \(windows)")
            #expect(backwards.isEmpty, "\(backwards.count) answers older than one already seen on the connection: \(backwards.prefix(10))")
            #expect(duringReloads >= 20, "only \(duringReloads) of \(total) requests were sent while a reload was in progress")
            let log = daemon.log
            #expect(log.components(separatedBy: "reloaded: generation").count - 1 == 20 && log.components(separatedBy: "reload failed").count - 1 == 3,
                    "log:\n\(log.suffix(4000))")

            // The old generations' pools and workers wind down once nothing
            // holds them: our connections are closed now, nothing is in flight.
            let answered = connections.count
            connections.removeAll()
            let final = Variant(serial: 20)
            let expectedThreads = Set((0..<final.threads).map { ExecutionModeTests.poolThreadName("default", $0) }
                                      + (0..<2).map { ExecutionModeTests.poolThreadName(final.pool, $0) })
            var poolThreads: [String] = []
            var workers: [ModeProc.Stat] = []
            let settled = waitUntil(timeout: 10) {
                poolThreads = ModeProc.threadNames(daemon.pid).filter { $0.hasPrefix("sy-pool-") }
                workers = ModeProc.workers(of: daemon.pid)
                return Set(poolThreads) == expectedThreads && poolThreads.count == expectedThreads.count && workers.count == final.workers
            }
            #expect(settled, "10 s after the load: pool threads \(poolThreads.sorted()) (want \(expectedThreads.sorted())), workers \(workers.map { "\($0.pid) \($0.comm)" }) (want \(final.workers))")
            #expect(daemon.stop() == .exited(0), "log:\n\(daemon.log.suffix(4000))")
            print("zero-downtime: \(total) answers on \(answered) connections, \(duringReloads) sent during a reload; reloads \(windows.count), \(String(format: "%.1f", (reloads.last?.end ?? 0) - (reloads.first?.start ?? 0))) s")
        }
    }
}
