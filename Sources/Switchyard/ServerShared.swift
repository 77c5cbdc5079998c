import Synchronization
import SwitchyardConfig
import SwitchyardEventLoop
import SwitchyardPlugins

/// State every loop and the main thread share. Thread-safe.
final class ServerShared: ServerStatus, @unchecked Sendable {
    let listeners: [Listener]
    let limits: Limits
    /// Open connections across all loops, for `max_connections`.
    let openConnections = Atomic<Int>(0)
    /// Request bodies and unsent answers held by all connections, for
    /// `max_buffered_bytes`, and how many connections hold any.
    let bufferedBytes = Atomic<Int>(0)
    let bufferHolders = Atomic<Int>(0)
    private let phaseValue = Atomic<UInt8>(0)
    // Set once, before any handler can run.
    nonisolated(unsafe) var loops: [EventLoop] = []
    /// The inbox of the loop that owns the worker processes (loop 0), when
    /// any route runs in one. Set once, before the loops start.
    nonisolated(unsafe) var workerLoopInbox: LoopInbox<LoopMessage>?

    init(listeners: [Listener], limits: Limits) {
        self.listeners = listeners
        self.limits = limits
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
}
