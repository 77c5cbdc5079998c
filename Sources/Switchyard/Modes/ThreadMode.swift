import SwitchyardExecution
import SwitchyardPlugins

/// `thread`: the handler runs on a thread of its route's pool. The loop
/// gathers a turn's jobs per pool and submits each batch once, at the end
/// of the turn; the answer comes back through the loop's inbox.
extension HTTPLoop {
    func queueThreadJob(_ exchange: Exchange, _ pool: ThreadPool) {
        if let index = threadJobs.firstIndex(where: { $0.pool === pool }) {
            threadJobs[index].jobs.append(exchange)
        } else {
            threadJobs.append((pool, [exchange]))
        }
    }

    /// Jobs for `pool` gathered this turn and not yet submitted.
    func pendingJobs(for pool: ThreadPool) -> Int {
        threadJobs.first(where: { $0.pool === pool })?.jobs.count ?? 0
    }

    /// End of turn: one submission per pool; what did not fit answers 503.
    func submitThreadJobs() {
        for index in threadJobs.indices where !threadJobs[index].jobs.isEmpty {
            let pool = threadJobs[index].pool
            pool.submit(&threadJobs[index].jobs)
            let refused = threadJobs[index].jobs
            threadJobs[index].jobs.removeAll(keepingCapacity: true)
            for job in refused {
                let exchange = job as! Exchange
                exchange.outcome = .failed(status: 503, reason: "thread pool \(pool.name) queue full")
                deliver(exchange)
            }
        }
    }
}

extension Exchange: PoolJob {
    /// On a pool thread: run the handler unless the answer was abandoned
    /// before the thread got to it, then hand the exchange back to its loop.
    func run() {
        guard state.compareExchange(expected: Exchange.queued, desired: Exchange.running, ordering: .acquiringAndReleasing).exchanged,
              case .thread(let handler, _) = route.action else { return }
        do {
            try handler.respond(to: request, into: &response)
            outcome = .answered
        } catch {
            outcome = .failed(status: 500, reason: "\(error)")
        }
        inbox.post(.answer(self))
    }
}
