import Foundation
import SwitchyardConfig

/// The handler catalog the config tests validate against: a stand-in for
/// the plugins layer's `Builtins.catalog` (the plugins tests check that the
/// kinds and option names agree), with async and blocking sync handlers.
enum TestCatalog {
    static let catalog = HandlerCatalog(entries: [
        "builtin.text": .init(kind: .sync, options: ["status": .int(200...599), "body": .string, "content_type": .headerValue]),
        "builtin.echo": .init(kind: .sync, options: [:]),
        "builtin.health": .init(kind: .sync, options: ["max_lag_ms": .int(1...86_400_000)]),
        "builtin.ready": .init(kind: .sync, options: [:]),
        "builtin.delay": .init(kind: .async, options: ["ms": .int(0...600_000)]),
        "builtin.sleep": .init(kind: .sync, options: ["ms": .int(0...600_000)]),
        "builtin.cpu": .init(kind: .sync, options: ["rounds": .int(1...100_000_000)]),
    ])

    static func loader(environment: [String: String] = [:]) -> ConfigLoader {
        ConfigLoader(catalog: catalog, environment: environment, cores: 4)
    }

    /// Loads `yaml` as a file called `t.yaml`.
    static func load(_ yaml: String, environment: [String: String] = [:],
                     baseDirectory: String? = nil) -> Result<Config, ConfigError> {
        do {
            return .success(try loader(environment: environment).load(yaml: yaml, name: "t.yaml", baseDirectory: baseDirectory))
        } catch {
            return .failure(error)
        }
    }

    /// The error lines (`FILE:L:C: error: …`) loading `yaml` gives; empty if it loads.
    static func errors(_ yaml: String, environment: [String: String] = [:]) -> [String] {
        switch load(yaml, environment: environment) {
        case .success: return []
        case .failure(let error): return error.diagnostics.filter { $0.severity == .error }.map(\.description)
        }
    }

    /// The config `yaml` gives, or nil (recording nothing) if it fails.
    static func config(_ yaml: String, environment: [String: String] = [:]) -> Config? {
        try? load(yaml, environment: environment).get()
    }
}

/// A fresh directory under /tmp, removed when the value goes away.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/syconfig-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        path = String(cString: made)
    }

    /// Writes `text` to `name` (which may contain directories) and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let full = path + "/" + name
        let directory = (full as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: true, encoding: .utf8)
        return full
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// The repository's root, found from this file's place in it.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
