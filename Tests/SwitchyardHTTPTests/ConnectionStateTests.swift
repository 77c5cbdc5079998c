import Testing
import SwitchyardHTTP

/// The connection state machine on a fake clock: every timeout, rate and
/// hand-off rule without a socket.
@Suite("Connection state")
struct ConnectionStateTests {
    static let t = ConnectionTimeouts(headerMs: 1000, idleMs: 5000, minDataRate: 240)

    static func check(_ s: inout ConnectionState, at now: UInt64, unsent: Int = 0, onlyEmptyLines: Bool = false,
                      paused: Bool = false) -> ConnectionTimeoutAction {
        s.checkTimers(now: now, t, paused: paused, unsent: { unsent }, onlyEmptyLines: { onlyEmptyLines })
    }

    @Test func aNewConnectionThatSendsNothingIsClosedSilentlyAfterTheHeadTimeout() {
        var s = ConnectionState()
        s.opened(now: 100, Self.t)
        #expect(Self.check(&s, at: 1099) == .none)
        #expect(Self.check(&s, at: 1100) == .close)
    }

    @Test func emptyLinesStartTheHeadTimerAndAreClosedSilently() {
        var s = ConnectionState()
        s.opened(now: 0, Self.t)
        let r1 = s.requestBytesArrive(startWithCRLF: true, now: 500, Self.t)
        #expect(r1 == false, "only a CRLF after a body is skipped")
        #expect(s.phase == .head)
        // More CRLF later does not push the timer out.
        let r2 = s.requestBytesArrive(startWithCRLF: true, now: 1200, Self.t)
        #expect(r2 == false)
        #expect(Self.check(&s, at: 1499, onlyEmptyLines: true) == .none)
        #expect(Self.check(&s, at: 1500, onlyEmptyLines: true) == .close)
    }

    @Test func aPartialHeadGets408() {
        var s = ConnectionState()
        s.opened(now: 0, Self.t)
        _ = s.requestBytesArrive(startWithCRLF: false, now: 10, Self.t)
        #expect(Self.check(&s, at: 1010) == .answer(.headerTimeout))
    }

    @Test func oneCRLFAfterABodyIsSkippedOnlyOnce() {
        var s = ConnectionState()
        s.opened(now: 0, Self.t)
        _ = s.requestBytesArrive(startWithCRLF: false, now: 0, Self.t)
        s.requestComplete(hadBody: true)
        let r3 = s.answered(now: 10, Self.t)
        #expect(r3)
        let r4 = s.requestBytesArrive(startWithCRLF: true, now: 20, Self.t)
        #expect(r4 == true)
        #expect(s.phase == .idle && s.deadline == 10 + Self.t.idleMs, "still idle: the CRLF belonged to the last request")
        let r5 = s.requestBytesArrive(startWithCRLF: true, now: 30, Self.t)
        #expect(r5 == false)
        #expect(s.phase == .head && s.deadline == 30 + Self.t.headerMs)
    }

    @Test func continueIsSentOnceAndOnlyBeforeAnyBodyByte() {
        var s = ConnectionState()
        s.opened(now: 0, Self.t)
        _ = s.requestBytesArrive(startWithCRLF: false, now: 0, Self.t)
        let r6 = s.awaitingBody(bytesSoFar: 0, expectsContinue: true, now: 1, Self.t)
        #expect(r6)
        let r7 = s.awaitingBody(bytesSoFar: 0, expectsContinue: true, now: 2, Self.t)
        #expect(!r7)
        s.requestComplete(hadBody: true)
        _ = s.answered(now: 3, Self.t)
        _ = s.requestBytesArrive(startWithCRLF: false, now: 4, Self.t)
        let r8 = s.awaitingBody(bytesSoFar: 10, expectsContinue: true, now: 5, Self.t)
        #expect(!r8, "part of the body is already here")
    }

    @Test func aStalledBodyGets408AfterTheIdleTimeout() {
        var s = ConnectionState()
        s.opened(now: 0, ConnectionTimeouts(headerMs: 1000, idleMs: 800, minDataRate: 0))
        _ = s.requestBytesArrive(startWithCRLF: false, now: 0, Self.t)
        _ = s.awaitingBody(bytesSoFar: 3, expectsContinue: false, now: 100, ConnectionTimeouts(headerMs: 1000, idleMs: 800, minDataRate: 0))
        let noRate = ConnectionTimeouts(headerMs: 1000, idleMs: 800, minDataRate: 0)
        let r9 = s.checkTimers(now: 899, noRate, paused: false, unsent: { 0 }, onlyEmptyLines: { false })
        #expect(r9 == .none)
        let r10 = s.checkTimers(now: 900, noRate, paused: false, unsent: { 0 }, onlyEmptyLines: { false })
        #expect(r10 == .answer(.bodyTimeout))
    }

    @Test func aBodySlowerThanTheMinimumRateIsCutPerWindowNotOnTheAverage() {
        var s = ConnectionState()
        s.opened(now: 0, Self.t)
        _ = s.requestBytesArrive(startWithCRLF: false, now: 0, Self.t)
        // A fast start: 1 MB in the first window.
        _ = s.awaitingBody(bytesSoFar: 0, expectsContinue: false, now: 0, Self.t)
        _ = s.awaitingBody(bytesSoFar: 1_000_000, expectsContinue: false, now: 4000, Self.t)
        #expect(Self.check(&s, at: 5000) == .none, "the first window moved plenty")
        // Then a byte every 4 s (under 240 B/s): the next window cuts it.
        _ = s.awaitingBody(bytesSoFar: 1_000_001, expectsContinue: false, now: 9000, Self.t)
        #expect(Self.check(&s, at: 9999) == .none, "inside the grace of the new window")
        #expect(Self.check(&s, at: 10000) == .answer(.bodyTooSlow))
    }

    @Test func aPausedBodyIsNotJudgedOnItsRate() {
        var s = ConnectionState()
        s.opened(now: 0, Self.t)
        _ = s.requestBytesArrive(startWithCRLF: false, now: 0, Self.t)
        _ = s.awaitingBody(bytesSoFar: 0, expectsContinue: false, now: 0, Self.t)
        #expect(Self.check(&s, at: 4999, paused: true) == .none)
        #expect(Self.check(&s, at: 5001, paused: true) == .answer(.bodyTimeout), "the idle timeout still applies")
    }

    @Test func aClientReadingSlowlyButSteadilyKeepsItsConnection() {
        var s = ConnectionState()
        s.opened(now: 0, Self.t)
        s.writeWasShort(unsent: 6_000_000, now: 0, Self.t)
        #expect(!s.mayProcessRequests)
        // Progress at every idle check, and well over 240 B/s.
        #expect(Self.check(&s, at: 5000, unsent: 5_000_000) == .none)
        #expect(Self.check(&s, at: 10000, unsent: 4_000_000) == .none)
        // No progress for a whole idle period: closed.
        #expect(Self.check(&s, at: 15000, unsent: 4_000_000) == .close)
    }

    @Test func aClientReadingSlowerThanTheMinimumRateIsClosed() {
        var s = ConnectionState()
        s.opened(now: 0, ConnectionTimeouts(headerMs: 1000, idleMs: 60000, minDataRate: 240))
        let t = ConnectionTimeouts(headerMs: 1000, idleMs: 60000, minDataRate: 240)
        s.writeWasShort(unsent: 100_000, now: 0, t)
        #expect(s.checkTimers(now: 5000, t, paused: false, unsent: { 100_000 - 1000 }, onlyEmptyLines: { false }) == .close,
                "1,000 bytes in 5 s is under 240 B/s")
    }

    @Test func whileTheAnswerIsAwayNothingTimesOutAndRequestsWait() {
        var s = ConnectionState()
        s.opened(now: 0, Self.t)
        _ = s.requestBytesArrive(startWithCRLF: false, now: 0, Self.t)
        s.requestComplete(hadBody: false)
        s.answerHandedOff()
        #expect(!s.mayProcessRequests)
        #expect(Self.check(&s, at: 1_000_000) == .none)
        let r11 = s.answered(now: 1_000_000, Self.t)
        #expect(r11)
        #expect(s.mayProcessRequests && s.phase == .idle && s.deadline == 1_000_000 + Self.t.idleMs)
    }

    @Test func closeAfterAnswerEndsInLingering() {
        var s = ConnectionState()
        s.opened(now: 0, Self.t)
        _ = s.requestBytesArrive(startWithCRLF: false, now: 0, Self.t)
        s.closeAfterAnswer()
        s.requestComplete(hadBody: false)
        let r12 = s.answered(now: 5, Self.t)
        #expect(!r12)
        s.lingering(now: 5, Self.t)
        #expect(!s.mayProcessRequests)
        #expect(Self.check(&s, at: 5 + Self.t.lingerMs) == .close)
    }

    @Test func theDrainShortensIdleButNotBusyConnections() {
        var idle = ConnectionState()
        idle.opened(now: 0, Self.t)
        _ = idle.requestBytesArrive(startWithCRLF: false, now: 0, Self.t)
        idle.requestComplete(hadBody: false)
        _ = idle.answered(now: 0, Self.t)
        idle.drainBegan(now: 100, Self.t)
        #expect(idle.deadline == 100 + Self.t.drainIdleGraceMs)
        var busy = ConnectionState()
        busy.opened(now: 0, Self.t)
        _ = busy.requestBytesArrive(startWithCRLF: false, now: 0, Self.t)
        busy.drainBegan(now: 100, Self.t)
        #expect(busy.deadline == Self.t.headerMs, "a head in progress keeps its own timeout")
    }
}
