#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
@testable import SwitchyardEventLoop

/// Records what the loop calls back, on the loop's thread.
final class Recorder: EventLoopHandler, @unchecked Sendable {
    var events: [(tag: EventTag, events: UInt32)] = []
    var timers: [(tag: UInt64, at: UInt64)] = []
    var onEvent: ((EventTag, EventLoop) -> Void)?
    var onTimer: ((UInt64, EventLoop) -> Void)?

    func handleEvent(tag: EventTag, events: UInt32, loop: EventLoop) {
        self.events.append((tag, events))
        onEvent?(tag, loop)
    }

    func handleTimer(tag: UInt64, loop: EventLoop) {
        timers.append((tag, loop.now))
        onTimer?(tag, loop)
    }
}

/// Runs `loop` on its own thread until `stop`, then joins it.
final class LoopThread: @unchecked Sendable {
    let loop: EventLoop
    let handler: Recorder
    private var thread = pthread_t()

    init(_ loop: EventLoop, _ handler: Recorder) {
        self.loop = loop
        self.handler = handler
        let box = Unmanaged.passRetained(self)
        pthread_create(&thread, nil, { raw in
            let me = Unmanaged<LoopThread>.fromOpaque(raw!).takeRetainedValue()
            me.loop.run(me.handler)
            return nil
        }, box.toOpaque())
    }

    func stopAndJoin() {
        loop.stop()
        pthread_join(thread, nil)
    }
}

@Suite("Event loop")
struct EventLoopTests {
    @Test func eventTagRoundTrip() {
        let tag = EventTag(kind: 3, slot: 123_456, generation: 0x12_3456)
        #expect(tag.kind == 3)
        #expect(tag.slot == 123_456)
        #expect(tag.generation == 0x12_3456)
        let wrapped = EventTag(kind: 1, slot: 7, generation: 0x100_0001)
        #expect(wrapped.generation == 1, "generations wrap at 24 bits without touching kind or slot")
        #expect(wrapped.kind == 1 && wrapped.slot == 7)
        #expect(EventTag(kind: 1, slot: 7, generation: 1) != EventTag(kind: 1, slot: 7, generation: 2),
                "the same slot in a new generation is a different tag: a stale event is told apart")
    }

    @Test func timerHeapOrdersByDeadlineThenScheduling() {
        var heap = TimerHeap()
        for (deadline, tag) in [(50, 1), (10, 2), (30, 3), (10, 4), (70, 5), (30, 6), (0, 7)] as [(UInt64, UInt64)] {
            heap.insert(deadline: deadline, tag: tag)
        }
        #expect(heap.nearestDeadline == 0)
        #expect(heap.popDue(now: 0)?.tag == 7)
        #expect(heap.popDue(now: 5) == nil, "nothing else is due at 5")
        var order: [UInt64] = []
        while let entry = heap.popDue(now: 100) { order.append(entry.tag) }
        #expect(order == [2, 4, 3, 6, 1, 5])
        #expect(heap.isEmpty)
    }

    final class JobCounters: Sendable {
        let ran = Atomic<Int>(0)
        let offLoop = Atomic<Int>(0)
        let loopThread = Mutex<pthread_t?>(nil)
    }

    @Test func jobsFromManyThreadsRunOnceEachOnTheLoopThread() throws {
        let loop = try EventLoop(index: 0, name: "test-loop")
        let runner = LoopThread(loop, Recorder())
        let counters = JobCounters()
        loop.execute { counters.loopThread.withLock { $0 = pthread_self() } }

        let threads = 8, perThread = 2000
        var submitters: [pthread_t] = []
        for _ in 0..<threads {
            let work: @Sendable () -> Void = {
                for _ in 0..<perThread {
                    loop.execute {
                        counters.ran.add(1, ordering: .relaxed)
                        if let owner = counters.loopThread.withLock({ $0 }), pthread_equal(owner, pthread_self()) == 0 {
                            counters.offLoop.add(1, ordering: .relaxed)
                        }
                    }
                }
            }
            var thread = pthread_t()
            pthread_create(&thread, nil, { raw in
                Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().work()
                return nil
            }, Unmanaged.passRetained(Box(work)).toOpaque())
            submitters.append(thread)
        }
        for thread in submitters { pthread_join(thread, nil) }
        runner.stopAndJoin()   // jobs handed in before stop still run, exactly once
        #expect(counters.ran.load(ordering: .relaxed) == threads * perThread)
        #expect(counters.offLoop.load(ordering: .relaxed) == 0, "every job ran on the loop's thread")
    }

    @Test func timersFireInOrderAndNotEarly() throws {
        let loop = try EventLoop(index: 0, name: "test-loop")
        let recorder = Recorder()
        let start = MonotonicClock.nowMilliseconds()
        let deadlines: [UInt64: UInt64] = [1: start + 60, 2: start + 20, 3: start + 40]
        let done = Flag()
        recorder.onTimer = { tag, _ in if tag == 1 { done.set() } }
        loop.execute { for (tag, deadline) in deadlines { loop.scheduleTimer(at: deadline, tag: tag) } }
        let runner = LoopThread(loop, recorder)
        let limit = start + 5000
        while !done.isSet, MonotonicClock.nowMilliseconds() < limit { usleep(5000) }
        runner.stopAndJoin()
        #expect(recorder.timers.map(\.tag) == [2, 3, 1])
        for (tag, firedAt) in recorder.timers {
            #expect(firedAt >= deadlines[tag]!, "timer \(tag) fired at \(firedAt), before its deadline \(deadlines[tag]!)")
        }
    }

    @Test func readinessCarriesTheRegisteredTag() throws {
        let loop = try EventLoop(index: 0, name: "test-loop")
        let recorder = Recorder()
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let tag = EventTag(kind: 2, slot: 41, generation: 9)
        try loop.selector.add(fds[0], tag: tag.raw, interest: .read)
        let seen = Flag()
        recorder.onEvent = { [fd = fds[0]] _, _ in
            var byte: UInt8 = 0
            _ = read(fd, &byte, 1)           // level-triggered: drain, or it fires again
            seen.set()
        }
        let runner = LoopThread(loop, recorder)
        var byte: UInt8 = 0x2A
        #expect(write(fds[1], &byte, 1) == 1)
        let limit = MonotonicClock.nowMilliseconds() + 5000
        while !seen.isSet, MonotonicClock.nowMilliseconds() < limit { usleep(1000) }
        runner.stopAndJoin()
        #expect(recorder.events.count == 1)
        #expect(recorder.events.first?.tag == tag)
        #expect((recorder.events.first?.events ?? 0) & Interest.read.rawValue != 0)
    }
}

final class Box: @unchecked Sendable {
    let work: @Sendable () -> Void
    init(_ work: @escaping @Sendable () -> Void) { self.work = work }
}

final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
