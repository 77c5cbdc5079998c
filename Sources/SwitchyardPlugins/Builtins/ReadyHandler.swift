import SwitchyardHTTP

/// `builtin.ready` (`/readyz`): `200 ready` while serving; `503` while
/// starting or draining, so a load balancer stops sending before shutdown.
/// `?verbose` adds the lifecycle and the config served: generation, content
/// hash, the last reload and its outcome.
struct ReadyHandler: SyncHandler {
    let status: any ServerStatus

    func respond(to request: HandlerRequest, into response: inout Response) {
        let phase = status.phase
        response.status = phase == .serving ? 200 : 503
        response.addHeader("Content-Type", "text/plain; charset=utf-8")
        response.addHeader("Cache-Control", "no-store")
        var text = phase == .serving ? "ready\n" : "not ready: \(phase.rawValue)\n"
        if request.hasQueryItem("verbose") {
            text += "[\(phase == .serving ? "+" : "-")] lifecycle: \(phase.rawValue)\n"
            for line in status.configDetails { text += "[+] " + line + "\n" }
        }
        response.body.append(text)
    }
}
