import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Responses larger than the socket buffers: the loop holds pipelined requests
/// back past its output high-water mark and must come back for them; a client
/// that reads slowly but steadily must get the whole body.
@Suite("Large responses")
struct LargeResponseTests {
    /// A `builtin.text` route at /big whose body is `bytes` long (not compressible: no Accept-Encoding is sent).
    static func config(bytes: Int, limits: [String: Int] = [:]) -> DaemonConfig {
        let line = String(repeating: "0123456789abcdef", count: 63) + "switchyard-rox!\\n"   // 1,024 bytes once unescaped
        let body = String(repeating: line, count: bytes / 1024)
        var config = DaemonConfig(limits: limits)
        config.routes.append(#"{ path: /big, handler: builtin.text, mode: sync, options: { body: "\#(body)" } }"#)
        return config
    }

    @Test("three pipelined requests for 700 KB each: all three answered, in order", .timeLimit(.minutes(1)))
    func pipelinedPastHighWater() throws {
        let daemon = try Daemon(Self.config(bytes: 700 * 1024, limits: ["header_timeout_ms": 3000]))
        defer { daemon.stop() }
        let client = try daemon.connect()
        try client.send("GET /big HTTP/1.1\r\nHost: a\r\n\r\nGET /big HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        for i in 0..<2 {
            let response = try client.readResponse(timeout: 15)
            #expect(response.status == 200, "response \(i)")
            #expect(response.body.count == 700 * 1024, "response \(i)")
        }
        let last = try client.readResponse(timeout: 15)
        #expect(last.bodyString == "hello\n", "the request after the high-water mark was answered")
    }

    @Test("a client reading 6 MB slowly but steadily gets it all, though it takes longer than idle_timeout_ms",
          .timeLimit(.minutes(1)))
    func slowSteadyReader() throws {
        // More than the kernel's send buffer takes (up to 4 MB), so a write stays pending for seconds.
        let size = 6 * 1024 * 1024
        let daemon = try Daemon(Self.config(bytes: size, limits: ["idle_timeout_ms": 1500]))
        defer { daemon.stop() }
        let client = try daemon.connect()
        var small: Int32 = 32 * 1024   // keep the kernel from buffering the whole answer for us
        setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        try client.send("GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
        var received = 0
        var chunk = [UInt8](repeating: 0, count: 32 * 1024)
        let start = now()
        while now() - start < 40 {
            let n = chunk.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received += n
            if received >= size { break }
            usleep(40_000)   // about 0.8 MB/s: some 8 s in all
        }
        let elapsed = now() - start
        #expect(received >= size, "got \(received) of at least \(size) bytes in \(elapsed) s")
        #expect(elapsed > 3, "the read took \(elapsed) s: it did not outlast idle_timeout_ms, so it proves nothing")
    }

    @Test("a client that stops reading a 6 MB answer is closed once idle_timeout_ms passes without progress",
          .timeLimit(.minutes(1)))
    func stalledReader() throws {
        let size = 6 * 1024 * 1024
        let daemon = try Daemon(Self.config(bytes: size, limits: ["idle_timeout_ms": 500]))
        defer { daemon.stop() }
        let client = try daemon.connect()
        try client.send("GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
        sleep(seconds: 3)   // not reading
        let rest = client.readUntilClosed(timeout: 20)
        #expect(rest.closed, "still open after 3 s of no reading and 20 s more")
        #expect(rest.bytes.count < size, "got the whole answer: the stall was never noticed")
    }
}
