import SwitchyardConfig

/// The `builtin` plugin: its catalog (for config validation) and the factory
/// that turns a configured route into its handler.
public enum Builtins {
    public static let catalog = HandlerCatalog(entries: [
        "builtin.text": .init(kind: .sync, options: ["status": .int(200...599), "body": .string, "content_type": .headerValue],
                              check: TextHandler.check),
        "builtin.echo": .init(kind: .sync, options: [:]),
        "builtin.health": .init(kind: .sync, options: ["max_lag_ms": .int(1...86_400_000)]),
        "builtin.ready": .init(kind: .sync, options: [:]),
    ])

    /// Builds the handler of `route`. The config has already checked the
    /// handler name and its options against `catalog`.
    public static func makeHandler(for route: RouteSpec, status: any ServerStatus) -> RouteHandler {
        switch route.handler {
        case "builtin.text":
            return .fixed(TextHandler.content(options: route.options))
        case "builtin.echo":
            return .sync(EchoHandler())
        case "builtin.health":
            return .sync(HealthHandler(status: status, maxLagMilliseconds: UInt64(route.options["max_lag_ms"]?.intValue ?? 2000)))
        case "builtin.ready":
            return .sync(ReadyHandler(status: status))
        default:
            preconditionFailure("config accepted unknown handler \(route.handler)")
        }
    }
}
