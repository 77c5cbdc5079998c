#if canImport(Glibc)
import Glibc
#endif
import Logging
import Testing
@testable import SwitchyardSystemd

@Suite("Journal log lines")
struct JournalLogHandlerTests {
    /// Runs `body` with a pipe's write end; returns what was written to it.
    /// (Not stderr swapped with dup2: other tests write there at the same time.)
    static func capture(_ body: (Int32) -> Void) -> String {
        var fds: [Int32] = [0, 0]
        _ = pipe(&fds)
        body(fds[1])
        close(fds[1])
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fds[0], &chunk, chunk.count)
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        close(fds[0])
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func journalLinesCarryThePriorityAndNoTimestamp() {
        let text = Self.capture { fd in
            var handler = JournalLogHandler(level: SharedLogLevel(.info), journal: true, fd: fd)
            handler.metadata["generation"] = "3"
            handler.log(level: .warning, message: "reload failed:\nline two", metadata: ["route": "/x"],
                        source: "Switchyard", file: #file, function: #function, line: #line)
        }
        #expect(text == "<4>switchyard: reload failed:\\nline two generation=3 route=/x\n")
    }

    @Test func readableLinesCarryTimeAndLevelOnOneLine() {
        let text = Self.capture { fd in
            JournalLogHandler(level: SharedLogLevel(.info), journal: false, fd: fd).log(level: .error, message: "cannot listen", metadata: nil,
                        source: "Switchyard", file: #file, function: #function, line: #line)
        }
        #expect(text.hasSuffix(" error switchyard: cannot listen\n"), "\(text)")
        #expect(text.split(separator: "\n").count == 1)
        let stamp = String(text.prefix(24))
        #expect(stamp.count == 24 && stamp.hasSuffix("Z") && stamp.dropFirst(10).hasPrefix("T"), "\(stamp)")
    }

    @Test func prioritiesFollowSyslog() {
        #expect(JournalLogHandler.priority(.critical) == 2)
        #expect(JournalLogHandler.priority(.error) == 3)
        #expect(JournalLogHandler.priority(.warning) == 4)
        #expect(JournalLogHandler.priority(.notice) == 5)
        #expect(JournalLogHandler.priority(.info) == 6)
        #expect(JournalLogHandler.priority(.debug) == 7)
    }

    @Test func theJournalIsRecognisedOnlyWhenItIsStderr() {
        var fds: [Int32] = [0, 0]
        _ = pipe(&fds)
        defer { close(fds[0]); close(fds[1]) }
        var status = stat()
        fstat(fds[1], &status)
        #expect(JournalLogHandler.isJournal(fd: fds[1], journalStream: "\(status.st_dev):\(status.st_ino)"))
        #expect(!JournalLogHandler.isJournal(fd: fds[1], journalStream: "\(status.st_dev):\(status.st_ino &+ 1)"))
        #expect(!JournalLogHandler.isJournal(fd: fds[1], journalStream: nil))
        #expect(!JournalLogHandler.isJournal(fd: fds[1], journalStream: "garbage"))
    }
}
