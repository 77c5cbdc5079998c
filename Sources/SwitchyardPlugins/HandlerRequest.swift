import SwitchyardHTTP
import SwitchyardRouting

/// A read-only view of one request, valid only during the handler call: every
/// field points into the loop's buffers. Strings are built only when asked for.
public struct HandlerRequest {
    /// The bytes the head was parsed from (head at offset 0).
    public let buffer: UnsafeRawBufferPointer
    public let head: RequestHead
    public let headers: HeaderTable
    /// Percent-decoded path.
    public let path: UnsafeRawBufferPointer
    public let parameters: RouteParameters
    public let parameterNames: [String]
    public let body: UnsafeRawBufferPointer

    public init(buffer: UnsafeRawBufferPointer, head: RequestHead, headers: HeaderTable,
                path: UnsafeRawBufferPointer, parameters: RouteParameters, parameterNames: [String],
                body: UnsafeRawBufferPointer) {
        self.buffer = buffer; self.head = head; self.headers = headers; self.path = path
        self.parameters = parameters; self.parameterNames = parameterNames; self.body = body
    }

    public var method: String { string(head.methodRange) }
    public var pathString: String { String(decoding: path, as: UTF8.self) }
    /// The raw query (after `?`), or nil when the target had none.
    public var query: String? { head.hasQuery ? string(head.query) : nil }

    public func string(_ range: ByteRange) -> String {
        String(decoding: range.bytes(in: buffer), as: UTF8.self)
    }

    /// The first header named `name` (case-insensitive), or nil.
    public func header(_ name: String) -> String? {
        var name = name
        return name.withUTF8 { wanted in
            for i in 0..<headers.count {
                let field = headers[i]
                let bytes = field.name.bytes(in: buffer)
                if bytes.count == wanted.count, zip(bytes, wanted).allSatisfy({ lowercased($0) == lowercased($1) }) {
                    return string(field.value)
                }
            }
            return nil
        }
    }

    /// The value of the route parameter `name`, or nil.
    public func parameter(_ name: String) -> String? {
        guard let i = parameterNames.firstIndex(of: name), i < parameters.count else { return nil }
        let (start, end) = parameters[i]
        return String(decoding: UnsafeRawBufferPointer(rebasing: path[start..<end]), as: UTF8.self)
    }
}
