#if canImport(Glibc)
import Glibc
#endif
import Logging
import Testing
@testable import SwitchyardSystemd

@Suite("Journal log lines")
struct JournalLogHandlerTests {
    /// Runs `body` with stderr redirected to a pipe; returns what was written.
    static func capture(_ body: () -> Void) -> String {
        var fds: [Int32] = [0, 0]
        _ = pipe(&fds)
        let saved = dup(2)
        dup2(fds[1], 2)
        body()
        dup2(saved, 2)
        close(saved)
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
        var handler = JournalLogHandler(level: .info, journal: true)
        handler.metadata["generation"] = "3"
        let text = Self.capture {
            handler.log(level: .warning, message: "reload failed:\nline two", metadata: ["route": "/x"],
                        source: "Switchyard", file: #file, function: #function, line: #line)
        }
        #expect(text == "<4>switchyard: reload failed:\\nline two generation=3 route=/x\n")
    }

    @Test func readableLinesCarryTimeAndLevelOnOneLine() {
        let handler = JournalLogHandler(level: .info, journal: false)
        let text = Self.capture {
            handler.log(level: .error, message: "cannot listen", metadata: nil,
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
        var status = stat()
        fstat(2, &status)
        setenv("JOURNAL_STREAM", "\(status.st_dev):\(status.st_ino)", 1)
        #expect(JournalLogHandler.stderrIsJournal())
        setenv("JOURNAL_STREAM", "\(status.st_dev):\(status.st_ino &+ 1)", 1)
        #expect(!JournalLogHandler.stderrIsJournal())
        unsetenv("JOURNAL_STREAM")
        #expect(!JournalLogHandler.stderrIsJournal())
    }
}
