#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: what was attempted and the errno it returned.
public struct SystemError: Error, Sendable, CustomStringConvertible {
    public var call: String
    public var errno: Int32

    public init(_ call: String, errno: Int32) { self.call = call; self.errno = errno }

    public var description: String { "\(call): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// Runs a system call, retrying on EINTR (the one place that does). Returns
/// the result, or -1 with `errno` left for the caller when it is EAGAIN, so
/// that "would block" stays a normal outcome rather than an error.
@inline(__always)
public func retryingOnInterrupt(_ call: () -> Int) -> Int {
    while true {
        let result = call()
        if result >= 0 || errno != EINTR { return result }
    }
}

/// Like `retryingOnInterrupt`, but any failure is thrown as `SystemError`.
@inline(__always)
public func checkedSyscall(_ name: @autoclosure () -> String, _ call: () -> Int32) throws(SystemError) -> Int32 {
    while true {
        let result = call()
        if result >= 0 { return result }
        if errno != EINTR { throw SystemError(name(), errno: errno) }
    }
}
