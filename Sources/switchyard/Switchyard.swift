#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import Logging
import Switchyard
import SwitchyardConfig
import SwitchyardPlugins
import SwitchyardSystemd

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

    /// Loads and validates, refusing what this build cannot do in the same
    /// round as every other error, so one failure lists them all.
    func load() -> Result<Config, ConfigError> {
        let loader = BuildCapabilities.loader(catalog: Builtins.catalog, environment: ProcessInfo.processInfo.environment)
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
        return .success(config)
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the daemon in the foreground.")
    @OptionGroup var options: ConfigOption

    func run() throws {
        // Every line, fatal ones included, goes through one handler: with
        // journal priorities under systemd, with time and level otherwise.
        let level = SharedLogLevel(JournalLogHandler.levelFromEnvironment() ?? .info)
        LoggingSystem.bootstrap { _ in JournalLogHandler(level: level) }
        let logger = Logger(label: "switchyard")
        let notifier = SystemdNotifier()
        let config: Config
        switch options.load() {
        case .success(let loaded): config = loaded
        case .failure(let error):
            // The contract's one-line reason; `check` lists every diagnostic.
            logger.critical("invalid config, not starting: \(error.firstErrorAndCount)")
            notifier.failed(errno: Self.errno(reading: options.source), status: "invalid config, not starting")
            throw ExitCode(1)
        }
        if JournalLogHandler.levelFromEnvironment() == nil, let configured = config.logLevel,
           let configuredLevel = Logger.Level(rawValue: configured.rawValue) {
            level.value = configuredLevel
        }
        logger.info("using config \(options.source.description)")
        for warning in config.warnings { logger.warning("\(warning)") }
        let environment = ProcessInfo.processInfo.environment
        let server = Server(config: config, source: options.source,
                            loader: BuildCapabilities.loader(catalog: Builtins.catalog, environment: environment),
                            logger: logger, logLevel: level, environment: environment)
        do {
            let status = try server.run()
            throw ExitCode(status)
        } catch let error as Server.StartError {
            logger.critical("\(error)")
            notifier.failed(errno: error.errno, status: "not started: \(error)")
            throw ExitCode(1)
        }
    }

    /// Why a config cannot be used, as an errno for systemd: the file's own
    /// error when it cannot be read, else EINVAL (it is invalid).
    static func errno(reading source: ConfigSource) -> Int32 {
        guard case .file(let path) = source else { return EINVAL }
        return access(path, R_OK) == 0 ? EINVAL : Glibc.errno
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate a config without serving, like nginx -t.")
    @OptionGroup var options: ConfigOption

    func run() throws {
        switch options.load() {
        case .success(let config):
            var warnings = config.warnings
            if let problem = config.accessLog.fileProblem, case .file(let path) = config.accessLog.destination {
                // A warning, not an error: the daemon may run as another user
                // (systemd's LogsDirectory= makes its directory at start).
                warnings.append(Diagnostic(.warning, config.accessLog.location ?? SourceLocation(file: "\(config.source)", line: 1, column: 1),
                                           "access_log \(path) cannot be opened for appending by this user: \(problem); serve refuses to start with a log it cannot open"))
            }
            for warning in warnings { printError(warning.description) }
            print("\(config.source): ok (\(Plural.count(config.routes.count, "route")), "
                  + "\(Plural.count(warnings.count, "warning")))")
        case .failure(let error):
            printError(error.description)
            printError("\(options.source): invalid (\(error.counts))")
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
    static let configuration = CommandConfiguration(
        abstract: "Ask the running daemon to reload its config; exit 0 when it did, 1 (with the reason) when it did not.")
    @Option(name: .long, help: "The daemon's control socket (default: control: in the config, else $RUNTIME_DIRECTORY/control.sock, else the per-user path serve logs).")
    var control: String?
    @OptionGroup var options: ConfigOption

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        // The config's own `control:` when it can be read; a config that does
        // not load is no reason not to ask (the daemon then reports why).
        let path = control ?? (try? options.load().get())?.control ?? ControlClient.defaultPath(environment: environment)
        switch ControlClient.send("reload", to: path, timeoutSeconds: 90) {
        case .success(let line) where line.hasPrefix("ok"):
            print("switchyard reload: \(line.dropFirst(3))")
        case .success(let line):
            printError("switchyard reload: \(line.hasPrefix("error ") ? String(line.dropFirst(6)) : line)")
            throw ExitCode(1)
        case .failure(let error):
            printError("switchyard reload: \(error)")
            throw ExitCode(1)
        }
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
