#if canImport(Glibc)
import Glibc
#endif
import CSwitchyardLinux

/// The worker's side of the process pool, run by `switchyard worker` in the
/// child: it dies with the daemon, yields the CPU to the daemon's loops,
/// takes its setup, then runs jobs one at a time. Each answer goes into the
/// shared answer area as soon as its job is done — so a crash costs only the
/// job it was running — and the daemon hears of a batch's answers in one
/// message (an answer too large for the area goes by the socket itself).
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
        var answer = FrameWriter()
        defer { reader.release(); writer.release(); answer.release() }
        let area = mapSharedAnswerArea()
        var areaEnd = SharedAnswerArea.dataStart, unannounced = SharedAnswerArea.dataStart
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
                case .batch?:
                    areaEnd = SharedAnswerArea.dataStart
                    unannounced = areaEnd
                case .job? where ready:
                    run(payload, id, &answer)
                    let frame = answer.unsent
                    if let area, areaEnd + frame.count <= SharedAnswerArea.bytes {
                        // Into the shared area at once: it outlives this process.
                        (area + areaEnd).copyMemory(from: frame.baseAddress!, byteCount: frame.count)
                        areaEnd += frame.count
                        area.storeBytes(of: UInt64(areaEnd), as: UInt64.self)
                    } else {
                        announce(&writer, from: &unannounced, to: areaEnd)
                        writer.append(.result, id: id, length: frame.count - WorkerFrames.headerBytes) {
                            $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: frame[WorkerFrames.headerBytes...]))
                        }
                        if writer.send(to: channel) != .done { failure = WorkerGone() }
                    }
                    answer.clear()
                default:
                    break
                }
            }
            // One message back per batch received.
            announce(&writer, from: &unannounced, to: areaEnd)
            if !writer.isEmpty, writer.send(to: channel) != .done { failure = WorkerGone() }
        }
        if let failure, !(failure is WorkerGone) {
            let text = "worker setup failed: \(failure)\n"
            _ = text.withCString { write(2, $0, strlen($0)) }
        }
        return 1
    }

    private struct WorkerGone: Error {}

    /// Tells the daemon which answers in the shared area it has not heard of.
    private static func announce(_ writer: inout FrameWriter, from start: inout Int, to end: Int) {
        guard end > start else { return }
        writer.append(.answersInSharedArea, id: 0, length: 8) { out in
            out.storeBytes(of: UInt32(start).littleEndian, toByteOffset: 0, as: UInt32.self)
            out.storeBytes(of: UInt32(end).littleEndian, toByteOffset: 4, as: UInt32.self)
        }
        start = end
    }

    /// The daemon's shared answer area (fd 4), or nil: then every answer goes by the socket.
    private static func mapSharedAnswerArea() -> UnsafeMutableRawPointer? {
        let memory = mmap(nil, SharedAnswerArea.bytes, PROT_READ | PROT_WRITE, MAP_SHARED, SharedAnswerArea.fd, 0)
        close(SharedAnswerArea.fd)
        guard let memory, memory != MAP_FAILED else { return nil }
        return memory
    }
}
