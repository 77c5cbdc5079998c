#if canImport(Glibc)
import Glibc
#endif

/// What a frame between the daemon and a worker process carries.
public enum FrameKind: UInt8, Sendable {
    /// Daemon to worker, first: what the worker needs to build its handlers.
    case setup = 1
    /// Worker to daemon: set up, ready for jobs.
    case ready = 2
    /// Daemon to worker: run this.
    case job = 3
    /// Worker to daemon: the answer to the job with this id.
    case result = 4
    /// Daemon to worker, before the first job of a batch: every answer
    /// written so far has been read, so the shared answer area starts over.
    case batch = 5
    /// Worker to daemon: answers are in the shared area, from byte `u32` to byte `u32`.
    case answersInSharedArea = 6
}

/// A memory area both the daemon and one worker map (a memfd, the worker's
/// fd 4). The worker writes each answer there as a frame the moment its job
/// is done, and tells the daemon once per batch; what it wrote survives it
/// if it dies, so batching answers never costs an answered request. The
/// first 8 bytes hold how far the worker has written; frames follow.
public enum SharedAnswerArea {
    public static let fd: Int32 = 4
    public static let bytes = 256 * 1024
    public static let dataStart = 64

    /// The end of what the worker wrote (a plain load: the daemon reads it
    /// after a marker frame or once the worker is dead, and resets it to
    /// `dataStart` itself before it sends a batch).
    public static func written(_ base: UnsafeMutableRawPointer) -> Int {
        Int(base.load(as: UInt64.self))
    }
}

/// Frames on a `SOCK_SEQPACKET` pair: `u32 length` (of what follows), `u32 id`,
/// `u8 kind`, payload. Frames are packed into messages of up to
/// `messageBytes`, so one `send` carries a whole batch; a larger frame spans
/// several messages and the reader puts the stream back together.
public enum WorkerFrames {
    public static let headerBytes = 9
    /// Well under the default socket buffer (~208 KiB), so a message always fits.
    public static let messageBytes = 64 * 1024
}

/// A growable byte array over malloc'd memory that never zero-fills: the
/// frame buffers reserve room and let `recv` or the encoder write into it.
struct RawBytes {
    private(set) var base: UnsafeMutableRawPointer?
    private(set) var capacity = 0
    var count = 0

    mutating func reserve(_ extra: Int) {
        guard capacity - count < extra else { return }
        var newCapacity = max(capacity * 2, 4096)
        while newCapacity < count + extra { newCapacity *= 2 }
        let newBase = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        if let base, count > 0 { newBase.copyMemory(from: base, byteCount: count) }
        base?.deallocate()
        base = newBase
        capacity = newCapacity
    }

    /// Drops the first `n` bytes; keeps the memory unless it grew large.
    mutating func removeFirst(_ n: Int) {
        if n == count {
            count = 0
            if capacity > 4 * WorkerFrames.messageBytes { free() }
            return
        }
        base!.copyMemory(from: base! + n, byteCount: count - n)
        count -= n
    }

    mutating func free() {
        base?.deallocate()
        base = nil; capacity = 0; count = 0
    }
}

/// Outgoing frames, sent in messages of at most `WorkerFrames.messageBytes`.
/// Owns memory: call `release()` when done.
public struct FrameWriter {
    private var bytes = RawBytes()
    private var sent = 0

    public init() {}

    public var isEmpty: Bool { sent == bytes.count }

    public mutating func release() { bytes.free(); sent = 0 }

    /// The bytes appended and not sent yet.
    public var unsent: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: bytes.base.map { $0 + sent }, count: bytes.count - sent)
    }

    /// Forgets what was appended (it went some other way).
    public mutating func clear() {
        bytes.count = 0
        sent = 0
    }

    /// Appends one frame whose payload `fill` writes (exactly `length` bytes).
    public mutating func append(_ kind: FrameKind, id: UInt32, length: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) {
        bytes.reserve(WorkerFrames.headerBytes + length)
        let start = bytes.base! + bytes.count
        start.storeBytes(of: UInt32(5 + length).littleEndian, as: UInt32.self)
        (start + 4).storeBytes(of: id.littleEndian, as: UInt32.self)
        (start + 8).storeBytes(of: kind.rawValue, as: UInt8.self)
        fill(UnsafeMutableRawBufferPointer(start: start + WorkerFrames.headerBytes, count: length))
        bytes.count += WorkerFrames.headerBytes + length
    }

    public mutating func append(_ kind: FrameKind, id: UInt32, payload: UnsafeRawBufferPointer) {
        append(kind, id: id, length: payload.count) { out in
            if payload.count > 0 { out.copyMemory(from: payload) }
        }
    }

    public enum SendOutcome: Equatable { case done, wouldBlock, failed(Int32) }

    /// Sends what is queued, a message at a time, until done or the socket
    /// is full. Blocking or not as the socket is.
    public mutating func send(to fd: Int32) -> SendOutcome {
        while sent < bytes.count {
            let chunk = min(WorkerFrames.messageBytes, bytes.count - sent)
            let n = Glibc.send(fd, bytes.base! + sent, chunk, Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return .wouldBlock }
                return .failed(errno)
            }
            sent += n
        }
        bytes.removeFirst(bytes.count)
        sent = 0
        return .done
    }
}

/// Incoming frames, reassembled from messages. Owns memory: call `release()`.
public struct FrameReader {
    private var bytes = RawBytes()
    private var consumed = 0

    public init() {}

    public mutating func release() { bytes.free(); consumed = 0 }

    public enum ReceiveOutcome: Equatable { case data, wouldBlock, closed, failed(Int32) }

    /// Receives one message (blocking or not as the socket is).
    public mutating func receive(from fd: Int32) -> ReceiveOutcome {
        if consumed > 0 {
            bytes.removeFirst(consumed)
            consumed = 0
        }
        bytes.reserve(WorkerFrames.messageBytes)
        while true {
            let n = recv(fd, bytes.base! + bytes.count, WorkerFrames.messageBytes, 0)
            if n > 0 {
                bytes.count += n
                return .data
            }
            if n == 0 { return .closed }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return .wouldBlock }
            return .failed(errno)
        }
    }

    /// Calls `body` with each whole frame in `bytes`, in order.
    public static func forEachFrame(in bytes: UnsafeRawBufferPointer, _ body: (FrameKind?, UInt32, UnsafeRawBufferPointer) -> Void) {
        var offset = 0
        while bytes.count - offset >= WorkerFrames.headerBytes {
            let length = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            guard length >= 5, bytes.count - offset >= 4 + length else { return }
            let id = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
            body(FrameKind(rawValue: bytes[offset + 8]),
                 id, UnsafeRawBufferPointer(rebasing: bytes[(offset + WorkerFrames.headerBytes)..<(offset + 4 + length)]))
            offset += 4 + length
        }
    }

    /// Calls `body` with each complete frame received so far, in order. The
    /// payload is valid only during the call.
    public mutating func forEachFrame(_ body: (FrameKind?, UInt32, UnsafeRawBufferPointer) -> Void) {
        while bytes.count - consumed >= WorkerFrames.headerBytes {
            let p = bytes.base! + consumed
            let length = Int(UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)))
            guard bytes.count - consumed >= 4 + length else { return }
            let id = UInt32(littleEndian: (p + 4).loadUnaligned(as: UInt32.self))
            let kind = FrameKind(rawValue: (p + 8).load(as: UInt8.self))
            body(kind, id, UnsafeRawBufferPointer(start: p + WorkerFrames.headerBytes, count: length - 5))
            consumed += 4 + length
        }
    }
}
