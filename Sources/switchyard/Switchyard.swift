#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import Logging
import Switchyard
import SwitchyardConfig
import SwitchyardPlugins

@main
struct SwitchyardCommand: ParsableCommand {
    static let version = "switchyard 0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "switchyard",
        abstract: "A microservice gateway daemon: YAML routes, plugin handlers, four execution modes.",
        version: version,
        subcommands: [Serve.self, Check.self, Routes.self, Reload.self, Worker.self])
}

/// `--config FILE`, shared by the commands that read a config.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Config file (else $SWITCHYARD_CONFIG, else /etc/switchyard/switchyard.yaml, else the embedded default).")
    var config: String?

    mutating func validate() throws {
        // `--config "$UNSET"` must not quietly check or serve the embedded default.
        if config?.isEmpty == true { throw ValidationError("--config needs a file path; it was given an empty one") }
    }

    var source: ConfigSource {
        ConfigSource.resolve(flag: config, environment: ProcessInfo.processInfo.environment,
                             fileExists: { FileManager.default.fileExists(atPath: $0) })
    }

    /// Loads and validates; on failure prints every diagnostic to stderr.
    func load() -> Result<Config, ConfigError> {
        let loader = ConfigLoader(catalog: Builtins.catalog)
        let config: Config
        do {
            switch source {
            case .file(let path): config = try loader.load(file: path)
            case .embeddedDefault:
                config = try loader.load(yaml: EmbeddedDefault.yaml, name: EmbeddedDefault.name, baseDirectory: nil)
            }
        } catch {
            return .failure(error)
        }
        let unavailable = BuildCapabilities.errors(in: config)
        return unavailable.isEmpty ? .success(config) : .failure(ConfigError(config.warnings + unavailable))
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the daemon in the foreground.")
    @OptionGroup var options: ConfigOption

    func run() throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "switchyard")
        logger.logLevel = .info
        let config: Config
        switch options.load() {
        case .success(let loaded): config = loaded
        case .failure(let error):
            // The contract's one-line reason; `check` lists every diagnostic.
            let errors = error.diagnostics.filter { $0.severity == .error }
            let more = errors.count > 1 ? " (and \(errors.count - 1) more; switchyard check lists them all)" : ""
            printError("switchyard: invalid config, not starting: \(errors.first?.description ?? "\(error)")\(more)")
            throw ExitCode(1)
        }
        logger.info("using config \(options.source.description)")
        for warning in config.warnings { logger.warning("\(warning)") }
        do {
            let status = try Server(config: config, logger: logger).run()
            throw ExitCode(status)
        } catch let error as Server.StartError {
            printError("switchyard: \(error)")
            throw ExitCode(1)
        }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate a config without serving, like nginx -t.")
    @OptionGroup var options: ConfigOption

    func run() throws {
        switch options.load() {
        case .success(let config):
            for warning in config.warnings { printError(warning.description) }
            print("\(config.source): ok (\(config.routes.count) routes, \(config.warnings.count) warnings)")
        case .failure(let error):
            printError(error.description)
            throw ExitCode(1)
        }
    }
}

struct Routes: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the route table with declared and effective modes.")
    @OptionGroup var options: ConfigOption

    func run() throws {
        switch options.load() {
        case .success(let config):
            let table = RouteTable.render(config)
            print(table, terminator: table.hasSuffix("\n") ? "" : "\n")
        case .failure(let error):
            printError(error.description)
            throw ExitCode(1)
        }
    }
}

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Ask the running daemon to reload its config.")
    @Option(name: .long, help: "The daemon's control socket.")
    var control: String?

    func run() throws {
        printError("switchyard reload: the control socket is not implemented yet; send SIGHUP once reload lands")
        throw ExitCode(1)
    }
}

/// The worker role of `process` mode: the daemon starts these itself
/// (re-executing its own binary), one per worker process.
struct Worker: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run as a worker process of a running daemon (started by serve, not by hand).", shouldDisplay: false)
    @Option(help: "The daemon's pid.") var parent: Int32
    @Option(help: "The worker's number.") var index: Int

    func run() throws {
        throw ExitCode(WorkerMain.run(parent: parent, index: index))
    }
}
