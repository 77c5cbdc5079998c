#if canImport(Glibc)
import Glibc
#endif
import CSwitchyardLinux

/// Tasks suspended on the loop: each waits for a timer or for one fd's
/// readiness, in a slot that the timer or the epoll tag names with its
/// generation, so a timer that outlived its waiter is recognised and ignored.
struct WaiterTable {
    struct Waiter {
        var continuation: CheckedContinuation<Void, any Error>?
        var generation: UInt32 = 0
        var cancelled = false
        /// The fd registered with epoll for a readiness wait, or -1.
        var fd: Int32 = -1
        var inUse = false
    }

    var slots: [Waiter] = []
    var free: [Int32] = []

    mutating func allocate() -> (slot: Int, generation: UInt32) {
        let slot: Int
        if let reused = free.popLast() {
            slot = Int(reused)
        } else {
            slots.append(Waiter())
            slot = slots.count - 1
        }
        slots[slot].inUse = true
        return (slot, slots[slot].generation)
    }

    mutating func release(_ slot: Int) {
        slots[slot] = Waiter(generation: (slots[slot].generation &+ 1) & 0xFF_FFFF)
        free.append(Int32(slot))
    }

    func matches(_ slot: Int, _ generation: UInt32) -> Bool {
        slot < slots.count && slots[slot].inUse && slots[slot].generation == generation
    }
}

/// Awaitable primitives for tasks running on the loop (`Task(executorPreference: loop)`).
/// Each suspends the task without blocking the loop; cancelling the task
/// ends the wait at once with `CancellationError`.
extension EventLoop {
    /// Suspends the calling task for at least `milliseconds`. Must be called
    /// from a task running on this loop. Costs one timer-heap entry and one waiter slot.
    public func sleep(milliseconds: UInt64) async throws {
        // Counted from a fresh reading rounded up: `now` is the turn's clock
        // in whole milliseconds, up to one behind, which would end it early.
        let deadline = (MonotonicClock.nowMicroseconds() + 999) / 1000 + milliseconds
        try await wait { slot, generation in
            self.scheduleTimer(at: deadline, tag: self.waiterTag(slot, generation))
        }
    }

    /// Suspends the calling task until `fd` is readable (or hung up).
    public func waitUntilReadable(_ fd: Int32) async throws {
        try await waitForReadiness(fd, interest: .read)
    }

    /// Suspends the calling task until `fd` is writable.
    public func waitUntilWritable(_ fd: Int32) async throws {
        try await waitForReadiness(fd, interest: .write)
    }

    private func waitForReadiness(_ fd: Int32, interest: Interest) async throws {
        try await wait { slot, generation in
            self.waiters.slots[slot].fd = fd
            try self.selector.add(fd, tag: self.waiterTag(slot, generation),
                                  interest: Interest(rawValue: interest.rawValue | cswitchyard_EPOLLONESHOT()))
        }
    }

    private func waiterTag(_ slot: Int, _ generation: UInt32) -> UInt64 {
        EventTag(kind: Self.waiterKind, slot: slot, generation: generation).raw
    }

    /// Parks the task in a waiter slot; `arm` starts what will wake it.
    private func wait(_ arm: @escaping (Int, UInt32) throws -> Void) async throws {
        precondition(inLoop, "\(name): await on the loop from a task that does not run on it")
        let (slot, generation) = waiters.allocate()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if waiters.slots[slot].cancelled {
                    waiters.release(slot)
                    continuation.resume(throwing: CancellationError())
                    return
                }
                do {
                    try arm(slot, generation)
                    waiters.slots[slot].continuation = continuation
                } catch {
                    waiters.release(slot)
                    continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            if self.inLoop {
                self.cancelWaiter(slot, generation)
            } else {
                self.execute { self.cancelWaiter(slot, generation) }
            }
        }
    }

    /// A waiter's timer fired or its fd became ready.
    func waiterReady(_ tag: EventTag) {
        let slot = tag.slot
        guard waiters.matches(slot, tag.generation), let continuation = waiters.slots[slot].continuation else { return }
        if waiters.slots[slot].fd >= 0 { selector.remove(waiters.slots[slot].fd) }
        waiters.release(slot)
        continuation.resume()
    }

    private func cancelWaiter(_ slot: Int, _ generation: UInt32) {
        guard waiters.matches(slot, generation) else { return }
        guard let continuation = waiters.slots[slot].continuation else {
            waiters.slots[slot].cancelled = true   // not armed yet: it ends as soon as it would be
            return
        }
        if waiters.slots[slot].fd >= 0 { selector.remove(waiters.slots[slot].fd) }
        waiters.release(slot)
        continuation.resume(throwing: CancellationError())
    }
}
