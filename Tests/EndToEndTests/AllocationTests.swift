import Foundation
import Testing

/// Heap allocations per request, counted by valgrind's memcheck on the real
/// daemon: a fixed route must not allocate once the loop is warm. Two runs,
/// N and N + extra requests on one keep-alive connection, are differenced so
/// start-up and shutdown cancel out. The release build is measured: a debug
/// build allocates where the optimiser would not (about 3 per request).
@Suite("Allocations per request")
struct AllocationTests {
    /// `total heap usage: A allocs` from a run that served `count` requests of `path`.
    static func allocations(path: String, count: Int) throws -> Int {
        guard let valgrind = E2E.which("valgrind"), let objcopy = E2E.which("objcopy") else {
            throw E2EError("valgrind and objcopy are needed (apt: valgrind binutils); scripts/test installs them")
        }
        let dir = try E2E.makeTempDir()
        // valgrind 3.19 cannot read the DWARF 5 Swift emits: a copy without debug info.
        let binary = dir.appendingPathComponent("switchyard").path
        guard FileManager.default.isExecutableFile(atPath: E2E.releaseBinaryPath) else {
            throw E2EError("no release build at \(E2E.releaseBinaryPath): swift build -c release --product switchyard")
        }
        let copied = try runProcess(objcopy, ["--strip-debug", E2E.releaseBinaryPath, binary])
        guard copied.status == 0 else { throw E2EError("objcopy failed: \(copied.output)") }
        let valgrindLog = dir.appendingPathComponent("memcheck.log").path
        let yaml = """
            listen: ["127.0.0.1:0"]
            control: "\(dir.appendingPathComponent("control.sock").path)"
            routes:
              - { path: /hello, handler: builtin.text, mode: sync, options: { body: "hello\\n" } }
              - { path: /echo, handler: builtin.echo, mode: sync }
              - { path: /livez, handler: builtin.health, mode: sync }
            """
        let daemon = try Daemon(yaml: yaml, dir: dir, expectedListeners: 1, startTimeout: 120, binary: binary,
                                launcher: [valgrind, "--tool=memcheck", "--leak-check=no", "--log-file=\(valgrindLog)"])
        let client = try daemon.connect()
        for _ in 0..<count {
            try client.send("GET \(path) HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n")
            let response = try client.readResponse(timeout: 30)
            guard response.status == 200 else { throw E2EError("GET \(path): \(response.status)") }
        }
        client.shutdownWrite()
        let exit = daemon.stop(timeout: 60)
        guard exit == .exited(0) else { throw E2EError("daemon under valgrind ended \(exit); log:\n\(daemon.log)") }
        let log = try String(contentsOfFile: valgrindLog, encoding: .utf8)
        guard let line = log.split(separator: "\n").first(where: { $0.contains("total heap usage:") }),
              let allocs = line.split(separator: " ").firstIndex(of: "usage:").map({ line.split(separator: " ")[$0 + 1] })
        else { throw E2EError("no heap summary in valgrind's log:\n\(log)") }
        return Int(allocs.replacingOccurrences(of: ",", with: ""))!
    }

    @Test("a sync built-in allocates nothing per request (memcheck, 1,000 requests)",
          .timeLimit(.minutes(5)), arguments: ["/hello", "/livez"])
    func builtinDoesNotAllocate(_ path: String) throws {
        let few = try Self.allocations(path: path, count: 100)
        let many = try Self.allocations(path: path, count: 1100)
        let perRequest = Double(many - few) / 1000
        #expect(perRequest < 0.05, "GET \(path): \(few) allocations for 100 requests, \(many) for 1,100: \(perRequest) per request")
    }
}
