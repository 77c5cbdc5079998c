#if canImport(Glibc)
import Glibc
#endif
import CSwitchyardLinux

/// The worker's side of the process pool, run by `switchyard worker` in the
/// child: it dies with the daemon, yields the CPU to the daemon's loops,
/// takes its setup, then runs jobs one at a time and answers each as soon
/// as it is done — so a crash costs only the job it was running.
public enum WorkerProcess {
    /// The channel is fd 3 (see `ProcessPool`).
    public static let channel: Int32 = 3

    /// Serves until the daemon closes the channel; returns the exit status.
    /// - Parameters:
    ///   - parent: the daemon's pid: if it is already gone, exit at once.
    ///   - setup: builds what jobs need from the setup frame; a thrown error ends the worker.
    ///   - run: answers one job, appending its `.result` frame (with the given id) to the writer.
    public static func serve(parent: pid_t, niceness: Int32 = 10,
                             setup: (UnsafeRawBufferPointer) throws -> Void,
                             run: (UnsafeRawBufferPointer, UInt32, inout FrameWriter) -> Void) -> Int32 {
        _ = cswitchyard_die_with_parent()
        if getppid() != parent { return 1 }   // the daemon died before the line above
        signal(SIGPIPE, SIG_IGN)
        _ = cswitchyard_make_fault_signals_fatal()
        _ = cswitchyard_lower_priority(niceness)
        var reader = FrameReader()
        var writer = FrameWriter()
        defer { reader.release(); writer.release() }
        var ready = false
        var failure: Error?
        while failure == nil {
            switch reader.receive(from: channel) {
            case .data:
                break
            case .closed:
                return 0
            case .wouldBlock, .failed:
                return 1
            }
            reader.forEachFrame { kind, id, payload in
                guard failure == nil else { return }
                switch kind {
                case .setup?:
                    do {
                        try setup(payload)
                        writer.append(.ready, id: 0, length: 0) { _ in }
                        ready = true
                    } catch {
                        failure = error
                    }
                case .job? where ready:
                    run(payload, id, &writer)
                default:
                    break
                }
                if writer.send(to: channel) != .done { failure = WorkerGone() }
            }
        }
        if let failure, !(failure is WorkerGone) {
            let text = "worker setup failed: \(failure)\n"
            _ = text.withCString { write(2, $0, strlen($0)) }
        }
        return 1
    }

    private struct WorkerGone: Error {}
}
