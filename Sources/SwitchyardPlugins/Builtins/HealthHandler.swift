import SwitchyardHTTP

/// `builtin.health` (`/livez`, `/healthz`): `200 ok` while every event loop
/// turns; `503` naming the loop that has not turned within `max_lag_ms`.
/// `?verbose` lists each check.
struct HealthHandler: SyncHandler {
    let status: any ServerStatus
    let maxLagMilliseconds: UInt64

    func respond(to request: HandlerRequest, into response: inout Response) {
        var healthy = true
        status.forEachLoopLag { _, lag in if lag > maxLagMilliseconds { healthy = false } }
        response.status = healthy ? 200 : 503
        response.addHeader("Content-Type", "text/plain; charset=utf-8")
        response.addHeader("Cache-Control", "no-store")
        let verbose = request.hasQueryItem("verbose")
        if healthy, !verbose {
            response.body.append("ok\n")   // the common probe: no allocation
            return
        }
        var stalled: [String] = []
        var checks = ""
        status.forEachLoopLag { name, lag in
            if lag > maxLagMilliseconds { stalled.append(name) }
            checks += "[\(lag > maxLagMilliseconds ? "-" : "+")] loop \(name): last turn \(lag) ms ago (limit \(maxLagMilliseconds) ms)\n"
        }
        var text = stalled.isEmpty ? "ok\n" : "event loop " + stalled.joined(separator: ", ") + " stalled\n"
        if verbose { text += checks }
        response.body.append(text)
    }
}
