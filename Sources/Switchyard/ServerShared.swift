import Synchronization
import SwitchyardConfig
import SwitchyardEventLoop
import SwitchyardPlugins
import SwitchyardSystemd

/// State every loop and the main thread share. Thread-safe.
final class ServerShared: ServerStatus, @unchecked Sendable {
    /// Open connections across all loops, for `max_connections`.
    let openConnections = Atomic<Int>(0)
    /// Request bodies and unsent answers held by all connections, for
    /// `max_buffered_bytes`, and how many connections hold any.
    let bufferedBytes = Atomic<Int>(0)
    let bufferHolders = Atomic<Int>(0)
    private let phaseValue = Atomic<UInt8>(0)
    // Set once, before any loop runs.
    nonisolated(unsafe) var loops: [EventLoop] = []
    /// The inbox of the loop that owns the worker processes (loop 0). Set once, before the loops start.
    nonisolated(unsafe) var workerLoopInbox: LoopInbox<LoopMessage>?
    /// Per loop: what the main thread reads of it.
    let loopStates: [LoopState]
    let watchdog: Watchdog?
    /// Lines `/readyz?verbose` shows about the config: generation, hash, last reload.
    private let configLines = Mutex<[String]>([])

    init(loopCount: Int, watchdog: Watchdog?) {
        loopStates = (0..<loopCount).map { _ in LoopState() }
        self.watchdog = watchdog
    }

    var phase: LifecyclePhase {
        switch phaseValue.load(ordering: .acquiring) {
        case 0: return .starting
        case 1: return .serving
        default: return .draining
        }
    }

    /// Checked per request: the main thread sets it before the loops hear of
    /// the drain, and an answer given in between must already say close.
    var isDraining: Bool { phaseValue.load(ordering: .relaxed) == 2 }

    func setPhase(_ phase: LifecyclePhase) {
        let value: UInt8 = phase == .starting ? 0 : (phase == .serving ? 1 : 2)
        phaseValue.store(value, ordering: .releasing)
    }

    func forEachLoopLag(_ body: (_ name: String, _ lagMilliseconds: UInt64) -> Void) {
        let now = MonotonicClock.nowMilliseconds()
        for loop in loops {
            let last = loop.lastTurnMilliseconds.load(ordering: .relaxed)
            body(loop.name, now > last ? now - last : 0)
        }
    }

    var configDetails: [String] { configLines.withLock { $0 } }

    func setConfigDetails(_ lines: [String]) { configLines.withLock { $0 = lines } }
}

/// What one loop tells the main thread.
final class LoopState: Sendable {
    /// The generation it serves now (a reload waits until every loop took it up).
    let adopted = Atomic<Int>(0)
    /// The inline handler running now, as `generation << 32 | route + 1`, or 0:
    /// the route a stalled loop is held by.
    let runningRoute = Atomic<UInt64>(0)
}

/// systemd's watchdog, fed from the loops' own turns: a ping goes out only
/// while every loop has turned within half the watchdog interval, so a loop
/// held by a handler stops the pings and systemd acts.
final class Watchdog: Sendable {
    let intervalMilliseconds: UInt64
    private let lastPing = Atomic<UInt64>(0)
    /// Pings begin once READY=1 has gone out.
    private let started = Atomic<Bool>(false)
    private let notifier = SystemdNotifier()

    func start() { started.store(true, ordering: .releasing) }

    init(watchdogMicroseconds: UInt64) {
        intervalMilliseconds = max(1, watchdogMicroseconds / 2000)
    }

    /// From the end of a loop turn: ping if one is due and no loop lags.
    func tick(now: UInt64, loops: [EventLoop]) {
        guard started.load(ordering: .relaxed) else { return }
        let last = lastPing.load(ordering: .relaxed)
        guard now >= last + intervalMilliseconds else { return }
        for loop in loops where loop.lastTurnMilliseconds.load(ordering: .relaxed) + intervalMilliseconds < now { return }
        guard lastPing.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged else { return }
        notifier.watchdogPing()
    }
}
