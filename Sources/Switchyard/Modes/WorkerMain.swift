#if canImport(Glibc)
import Glibc
#endif
import CSwitchyardLinux
import SwitchyardConfig
import SwitchyardExecution
import SwitchyardHTTP
import SwitchyardPlugins

/// The worker process's side of `process` mode, run by `switchyard worker`:
/// it builds the handlers of the process-mode routes from the setup frame,
/// then answers job frames one at a time.
public enum WorkerMain {
    public static func run(parent: pid_t, index: Int) -> Int32 {
        _ = cswitchyard_set_thread_name("sy-worker-\(index)")
        var handlers: [Int: (handler: any SyncHandler, parameterNames: [String])] = [:]
        var response = Response()
        defer { response.release() }
        return WorkerProcess.serve(parent: parent, setup: { payload in
            for route in try WorkerSetup.decode(payload) {
                guard let definition = Builtins.registry[route.handler],
                      case .sync(let handler) = definition.factory(route.options, WorkerStatus()) else {
                    throw WorkerSetup.Failure(description: "handler \(route.handler) cannot run in a worker process")
                }
                handlers[route.index] = (handler, route.parameterNames)
            }
        }, run: { payload, id, writer in
            guard let job = WorkerRequest(payload), let route = handlers[job.routeIndex] else {
                WorkerResult.encodeFailure("malformed job or unknown route", to: &writer, id: id)
                return
            }
            var headers = HeaderTable(fieldBytes: job.headerFields, count: job.headerCount)
            defer { headers.release() }
            let request = HandlerRequest(buffer: job.bytes, head: job.head, headers: headers, path: job.path.bytes(in: job.bytes),
                                         parameters: job.parameters, parameterNames: route.parameterNames,
                                         body: job.body.bytes(in: job.bytes))
            response.reset()
            do {
                try route.handler.respond(to: request, into: &response)
                WorkerResult.encode(response, to: &writer, id: id)
            } catch {
                WorkerResult.encodeFailure("\(error)", to: &writer, id: id)
            }
            response.trim(above: 1 << 20)
        })
    }
}

/// A worker sees no event loops: it reports itself serving.
struct WorkerStatus: ServerStatus {
    var phase: LifecyclePhase { .serving }
    func forEachLoopLag(_ body: (String, UInt64) -> Void) {}
    var configDetails: [String] { [] }
}

/// What a worker is told at start: for each process-mode route, its index,
/// handler, parameter names and options.
enum WorkerSetup {
    struct Route {
        var index: Int
        var handler: String
        var parameterNames: [String]
        var options: [String: OptionValue]

        /// The same handler with the same options and parameter names: one worker entry serves both routes.
        func sameHandler(as other: Route) -> Bool {
            handler == other.handler && parameterNames == other.parameterNames && options == other.options
        }
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    static func encode(_ routes: [Route]) -> [UInt8] {
        var out: [UInt8] = []
        put(UInt32(routes.count), &out)
        for route in routes {
            put(UInt32(route.index), &out)
            put(route.handler, &out)
            put(UInt32(route.parameterNames.count), &out)
            for name in route.parameterNames { put(name, &out) }
            put(.map(route.options), &out)
        }
        return out
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) throws -> [Route] {
        var reader = Reader(bytes: bytes)
        var routes: [Route] = []
        for _ in 0..<(try reader.u32()) {
            let index = Int(try reader.u32())
            let handler = try reader.string()
            var names: [String] = []
            for _ in 0..<(try reader.u32()) { names.append(try reader.string()) }
            guard case .map(let options) = try reader.option() else { throw Failure(description: "malformed setup") }
            routes.append(Route(index: index, handler: handler, parameterNames: names, options: options))
        }
        return routes
    }

    private static func put(_ value: UInt32, _ out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func put(_ text: String, _ out: inout [UInt8]) {
        put(UInt32(text.utf8.count), &out)
        out.append(contentsOf: text.utf8)
    }

    private static func put(_ option: OptionValue, _ out: inout [UInt8]) {
        switch option {
        case .string(let s): out.append(UInt8(ascii: "s")); put(s, &out)
        case .int(let i): out.append(UInt8(ascii: "i")); withUnsafeBytes(of: Int64(i).littleEndian) { out.append(contentsOf: $0) }
        case .double(let d): out.append(UInt8(ascii: "d")); withUnsafeBytes(of: d.bitPattern.littleEndian) { out.append(contentsOf: $0) }
        case .bool(let b): out.append(UInt8(ascii: "b")); out.append(b ? 1 : 0)
        case .list(let items):
            out.append(UInt8(ascii: "l")); put(UInt32(items.count), &out)
            for item in items { put(item, &out) }
        case .map(let entries):
            out.append(UInt8(ascii: "m")); put(UInt32(entries.count), &out)
            for (key, value) in entries.sorted(by: { $0.key < $1.key }) { put(key, &out); put(value, &out) }
        }
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        mutating func take(_ n: Int) throws -> UnsafeRawBufferPointer {
            guard n >= 0, offset + n <= bytes.count else { throw Failure(description: "setup frame cut short") }
            defer { offset += n }
            return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
        }
        mutating func u32() throws -> UInt32 { UInt32(littleEndian: try take(4).loadUnaligned(as: UInt32.self)) }
        mutating func u64() throws -> UInt64 { UInt64(littleEndian: try take(8).loadUnaligned(as: UInt64.self)) }
        mutating func string() throws -> String { String(decoding: try take(Int(try u32())), as: UTF8.self) }

        mutating func option() throws -> OptionValue {
            switch try take(1)[0] {
            case UInt8(ascii: "s"): return .string(try string())
            case UInt8(ascii: "i"): return .int(Int(Int64(bitPattern: try u64())))
            case UInt8(ascii: "d"): return .double(Double(bitPattern: try u64()))
            case UInt8(ascii: "b"): return .bool(try take(1)[0] != 0)
            case UInt8(ascii: "l"):
                var items: [OptionValue] = []
                for _ in 0..<(try u32()) { items.append(try option()) }
                return .list(items)
            case UInt8(ascii: "m"):
                var entries: [String: OptionValue] = [:]
                for _ in 0..<(try u32()) { let key = try string(); entries[key] = try option() }
                return .map(entries)
            default:
                throw Failure(description: "unknown option tag in setup")
            }
        }
    }
}
