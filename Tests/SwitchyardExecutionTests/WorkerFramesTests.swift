#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import SwitchyardExecution

@Suite("Worker frames")
struct WorkerFramesTests {
    @Test func framesSmallAndLargerThanAMessageCrossASeqpacketPairIntact() throws {
        var pair: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue), 0, &pair) == 0)
        defer { close(pair[0]); close(pair[1]) }
        let sizes = [0, 1, 100, WorkerFrames.messageBytes - WorkerFrames.headerBytes, WorkerFrames.messageBytes, 150_000]
        var writer = FrameWriter()
        defer { writer.release() }
        for (i, size) in sizes.enumerated() {
            let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }
            payload.withUnsafeBytes { writer.append(.job, id: UInt32(i), payload: $0) }
        }
        // A reader on its own thread, so the writer's blocking sends can go through.
        final class Received: @unchecked Sendable { var frames: [(UInt32, [UInt8])] = [] }
        let received = Received()
        let readerFD = pair[1], expected = sizes.count
        var thread = pthread_t()
        final class Box: @unchecked Sendable { let work: () -> Void; init(_ w: @escaping () -> Void) { work = w } }
        let box = Box {
            var reader = FrameReader()
            while received.frames.count < expected, reader.receive(from: readerFD) == .data {
                reader.forEachFrame { kind, id, payload in
                    #expect(kind == .job)
                    received.frames.append((id, Array(payload)))
                }
            }
            reader.release()
        }
        pthread_create(&thread, nil, { raw in Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().work(); return nil },
                       Unmanaged.passRetained(box).toOpaque())
        #expect(writer.send(to: pair[0]) == .done)
        pthread_join(thread, nil)
        #expect(received.frames.count == sizes.count)
        for (i, size) in sizes.enumerated() where i < received.frames.count {
            #expect(received.frames[i].0 == UInt32(i))
            #expect(received.frames[i].1 == (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }, "frame \(i) of \(size) bytes")
        }
    }
}
