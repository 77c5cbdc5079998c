#if canImport(Glibc)
import Glibc
#endif
import SwitchyardHTTP

/// `builtin.sleep`: blocks the thread that runs it for `?ms=N` (or option
/// `ms`, default 100, at most 600000) — a stand-in for blocking I/O, to show
/// what each mode does with it: on the event loop it stalls every other
/// connection of that loop; in a pool it holds one pool thread. Answers
/// `slept N ms`.
struct SleepHandler: SyncHandler {
    static let milliseconds = IntegerParameter(name: "ms", range: 0...600_000, defaultValue: 100)

    /// The route's `ms`, used when the request names none.
    let defaultMilliseconds: Int

    func respond(to request: HandlerRequest, into response: inout Response) {
        guard let ms = Self.milliseconds.value(for: request, configured: defaultMilliseconds, response: &response) else { return }
        Self.block(milliseconds: ms)
        response.addHeader("Content-Type", "text/plain")
        response.body.append("slept ")
        response.body.appendDecimal(ms)
        response.body.append(" ms\n")
    }

    /// Sleeps the calling thread for `milliseconds` with nanosleep; a signal
    /// that interrupts it (EINTR) resumes the sleep for the time remaining.
    static func block(milliseconds: Int) {
        guard milliseconds > 0 else { return }
        var remaining = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        var left = timespec()
        while nanosleep(&remaining, &left) != 0 {
            guard errno == EINTR else { return }   // EINVAL/EFAULT cannot happen with these values
            remaining = left
        }
    }
}
