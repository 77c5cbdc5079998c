import SwitchyardHTTP

/// `builtin.health` (`/livez`, `/healthz`): `200 ok` while every event loop
/// turns; `503` naming the loop that has not turned within `max_lag_ms`.
/// `?verbose` lists each check.
struct HealthHandler: SyncHandler {
    let status: any ServerStatus
    let maxLagMilliseconds: UInt64

    func respond(to request: HandlerRequest, into response: inout Response) {
        let lags = status.loopLags()
        let stalled = lags.filter { $0.lagMilliseconds > maxLagMilliseconds }
        response.status = stalled.isEmpty ? 200 : 503
        response.addHeader("Content-Type", "text/plain; charset=utf-8")
        response.addHeader("Cache-Control", "no-store")
        var text = stalled.isEmpty
            ? "ok\n"
            : "event loop " + stalled.map(\.name).joined(separator: ", ") + " stalled\n"
        if request.queryItem("verbose") != nil {
            for (name, lag) in lags {
                text += "[\(lag > maxLagMilliseconds ? "-" : "+")] loop \(name): last turn \(lag) ms ago (limit \(maxLagMilliseconds) ms)\n"
            }
        }
        response.body.append(text)
    }
}
