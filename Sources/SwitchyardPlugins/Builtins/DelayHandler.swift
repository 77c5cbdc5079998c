import SwitchyardEventLoop
import SwitchyardHTTP

/// `builtin.delay` (async): waits `?ms=N` (or option `ms`, default 100, at
/// most 600000) on the loop's timer without blocking it — the loop serves
/// others meanwhile — then answers `waited N ms`; `ms=0` answers at once, without an await. Costs one timer-heap entry
/// and one waiter slot while it waits.
struct DelayHandler: AsyncHandler {
    static let milliseconds = IntegerParameter(name: "ms", range: 0...600_000, defaultValue: 100)

    /// The route's `ms`, used when the request names none.
    let defaultMilliseconds: Int

    func respond(to request: HandlerRequest, into response: inout Response, loop: EventLoop) async throws {
        guard let ms = Self.milliseconds.value(for: request, configured: defaultMilliseconds, response: &response) else { return }
        // `ms=0` answers without waiting: the trivial async handler.
        if ms > 0 { try await loop.sleep(milliseconds: UInt64(ms)) }
        response.addHeader("Content-Type", "text/plain")
        response.body.append("waited ")
        response.body.appendDecimal(ms)
        response.body.append(" ms\n")
    }
}
