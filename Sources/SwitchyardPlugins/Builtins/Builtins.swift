import SwitchyardConfig

/// The `builtin` plugin: its handlers registered as any plugin's are, the
/// catalog the config loader checks routes against, and the factory that
/// turns a configured route into its handler.
public enum Builtins {
    /// Every built-in handler: name, kind, options and factory.
    public static let registry = HandlerRegistry([
        HandlerDefinition(
            name: "builtin.text", kind: .sync,
            options: ["status": .int(200...599), "body": .string, "content_type": .headerValue],
            check: TextHandler.check) { options, _ in .fixed(TextHandler.content(options: options)) },
        HandlerDefinition(name: "builtin.echo", kind: .sync) { _, _ in .sync(EchoHandler()) },
        HandlerDefinition(name: "builtin.health", kind: .sync, options: ["max_lag_ms": .int(1...86_400_000)]) { options, status in
            .sync(HealthHandler(status: status, maxLagMilliseconds: UInt64(options["max_lag_ms"]?.intValue ?? 2000)))
        },
        HandlerDefinition(name: "builtin.ready", kind: .sync) { _, status in .sync(ReadyHandler(status: status)) },
        HandlerDefinition(name: "builtin.sleep", kind: .sync, options: ["ms": SleepHandler.milliseconds.optionType]) { options, _ in
            .sync(SleepHandler(defaultMilliseconds: SleepHandler.milliseconds.configured(options)))
        },
        HandlerDefinition(name: "builtin.delay", kind: .async, options: ["ms": DelayHandler.milliseconds.optionType]) { options, _ in
            .async(DelayHandler(defaultMilliseconds: DelayHandler.milliseconds.configured(options)))
        },
        HandlerDefinition(name: "builtin.cpu", kind: .sync, options: ["rounds": CPUHandler.rounds.optionType]) { options, _ in
            .sync(CPUHandler(defaultRounds: CPUHandler.rounds.configured(options)))
        },
    ])

    /// The config loader's view of `registry`.
    public static let catalog = registry.catalog

    /// Builds the handler of `route` through `registry`. The config has
    /// already checked the handler name and its options against `catalog`;
    /// a name the registry lacks means it was checked against another
    /// catalog, a programmer error. Once per route, not per request.
    public static func makeHandler(for route: RouteSpec, status: any ServerStatus) -> RouteHandler {
        guard let handler = registry.makeHandler(for: route, status: status) else {
            preconditionFailure("route \(route.path): handler \(route.handler) is not registered; "
                                + "the config was checked against a catalog other than Builtins.catalog")
        }
        return handler
    }
}
