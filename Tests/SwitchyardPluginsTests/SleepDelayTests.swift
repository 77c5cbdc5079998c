#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
import SwitchyardConfig
import SwitchyardEventLoop
@testable import SwitchyardPlugins

/// Milliseconds on the monotonic clock.
func monotonicMilliseconds() -> Int {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return now.tv_sec * 1000 + now.tv_nsec / 1_000_000
}

/// The `ms` queries that answer 400, for sleep and delay alike.
let badMilliseconds = [
    "ms=600001", "ms=-1", "ms=+1", "ms=x", "ms=", "ms", "ms=1.5", "ms=10ms", "ms=%35",
    "ms=99999999999999999999999", "ms=x&ms=5",
]

/// Signals the EINTR test's handler caught.
let signalsCaught = Atomic<Int>(0)

@Suite("builtin.sleep")
struct SleepHandlerTests {
    @Test("answers slept N ms: ?ms wins, else the option, else 100")
    func parameters() throws {
        #expect(try answer(SleepHandler(defaultMilliseconds: 0), "/sleep")
                == Answer(status: 200, contentType: "text/plain", body: "slept 0 ms\n"))
        #expect(try answer(SleepHandler(defaultMilliseconds: 50), "/sleep?ms=0").body == "slept 0 ms\n")
        #expect(try answer(SleepHandler(defaultMilliseconds: 0), "/sleep?a=b&ms=3").body == "slept 3 ms\n")
        #expect(SleepHandler.milliseconds.configured([:]) == 100)
        #expect(SleepHandler.milliseconds.configured(["ms": .int(7)]) == 7)
        #expect(SleepHandler.milliseconds.range == 0...600_000)
    }

    @Test("blocks its thread for at least the time asked")
    func blocks() throws {
        let start = monotonicMilliseconds()
        #expect(try answer(SleepHandler(defaultMilliseconds: 0), "/sleep?ms=40").body == "slept 40 ms\n")
        #expect(monotonicMilliseconds() - start >= 40)
    }

    @Test("a bad or out-of-range ?ms answers 400 with one line", arguments: badMilliseconds)
    func badQuery(query: String) throws {
        let start = monotonicMilliseconds()
        #expect(try answer(SleepHandler(defaultMilliseconds: 0), "/sleep?\(query)")
                == Answer(status: 400, contentType: "text/plain", body: "ms must be a whole number from 0 to 600000\n"))
        #expect(monotonicMilliseconds() - start < 1000, "a refused request does not sleep")
    }

    final class Sleeper: @unchecked Sendable {
        var thread = pthread_t()
        let elapsed = Atomic<Int>(-1)
        let started = Atomic<Bool>(false)
    }

    @Test("signals (EINTR) do not cut the sleep short")
    func resumesAfterSignals() throws {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in signalsCaught.add(1, ordering: .relaxed) }   // no SA_RESTART: nanosleep returns EINTR
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        var previous = sigaction()
        sigaction(SIGUSR2, &action, &previous)
        defer { sigaction(SIGUSR2, &previous, nil) }

        let sleeper = Sleeper()
        let box = Unmanaged.passRetained(sleeper)
        pthread_create(&sleeper.thread, nil, { raw in
            let me = Unmanaged<Sleeper>.fromOpaque(raw!).takeRetainedValue()
            // Test threads inherit a mask that blocks most signals (libdispatch's): let SIGUSR2 in.
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGUSR2)
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
            me.started.store(true, ordering: .releasing)
            let start = monotonicMilliseconds()
            SleepHandler.block(milliseconds: 300)
            me.elapsed.store(monotonicMilliseconds() - start, ordering: .releasing)
            return nil
        }, box.toOpaque())
        while !sleeper.started.load(ordering: .acquiring) { usleep(1000) }
        for _ in 0..<8 {
            usleep(20_000)
            pthread_kill(sleeper.thread, SIGUSR2)
        }
        pthread_join(sleeper.thread, nil)
        let elapsed = sleeper.elapsed.load(ordering: .acquiring)
        let caught = signalsCaught.load(ordering: .relaxed)
        #expect(caught > 0, "no signal reached the sleeping thread")
        #expect(elapsed >= 300)
    }
}

@Suite("builtin.delay")
struct DelayHandlerTests {
    @Test("answers waited N ms after waiting on the loop: ?ms wins, else the option, else 100")
    func parameters() async throws {
        let running = try RunningLoop()
        defer { running.stop() }
        #expect(try await running.answer(DelayHandler(defaultMilliseconds: 0), "/delay")
                == Answer(status: 200, contentType: "text/plain", body: "waited 0 ms\n"))
        let start = monotonicMilliseconds()
        #expect(try await running.answer(DelayHandler(defaultMilliseconds: 0), "/delay?ms=30").body == "waited 30 ms\n")
        #expect(monotonicMilliseconds() - start >= 30)
        #expect(try await running.answer(DelayHandler(defaultMilliseconds: 5), "/delay").body == "waited 5 ms\n")
        #expect(DelayHandler.milliseconds.configured([:]) == 100)
        #expect(DelayHandler.milliseconds.configured(["ms": .int(9)]) == 9)
        #expect(DelayHandler.milliseconds.range == 0...600_000)
    }

    @Test("a bad or out-of-range ?ms answers 400 with one line, without waiting")
    func badQuery() async throws {
        let running = try RunningLoop()
        defer { running.stop() }
        for query in badMilliseconds {
            #expect(try await running.answer(DelayHandler(defaultMilliseconds: 600_000), "/delay?\(query)")
                    == Answer(status: 400, contentType: "text/plain", body: "ms must be a whole number from 0 to 600000\n"),
                    "\(query)")
        }
    }
}
