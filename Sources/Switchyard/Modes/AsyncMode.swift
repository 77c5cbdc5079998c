import SwitchyardPlugins

/// `async`: the handler runs in a task whose executor is this loop, so its
/// code runs on the loop's thread and, while it awaits, the loop serves
/// others. Costs a task and an exchange per request.
extension HTTPLoop {
    func startTask(_ exchange: Exchange, _ handler: any AsyncHandler) {
        let loop = self.loop
        exchange.task = Task(executorPreference: loop) {
            do {
                try await handler.respond(to: exchange.request, into: &exchange.response, loop: loop)
                exchange.outcome = .answered
            } catch is CancellationError {
                // Its client left or its time ran out: the answer is not wanted.
            } catch {
                exchange.outcome = .failed(status: 500, reason: "\(error)")
            }
            exchange.task = nil
            self.deliver(exchange)
        }
    }
}
