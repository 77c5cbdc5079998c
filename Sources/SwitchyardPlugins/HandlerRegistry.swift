import SwitchyardConfig

/// One handler function as a plugin offers it: its name, what the config
/// loader needs to check a route that names it (kind, option types, a rule
/// across options), and the factory that builds its `RouteHandler`.
/// Built-ins and shared-library plugins register the same way.
public struct HandlerDefinition: Sendable {
    /// Builds a route's handler from its checked options. Called once per
    /// route when routes are built (at start and at reload, and in a worker
    /// process when it starts), never per request. Any thread.
    public typealias Factory = @Sendable (_ options: [String: OptionValue], _ status: any ServerStatus) -> RouteHandler

    /// `PLUGIN.FUNCTION`, e.g. `builtin.text`.
    public let name: String
    /// What the config loader checks a route against: kind, options, check.
    public let entry: HandlerCatalog.Entry
    public let factory: Factory

    /// Whether the function is sync or async; decides the route's mode.
    public var kind: HandlerKind { entry.kind }

    /// - Parameters:
    ///   - name: `PLUGIN.FUNCTION`.
    ///   - kind: sync or async, as the plugin declares it.
    ///   - options: each option the handler takes and its type; others are
    ///     config errors.
    ///   - check: a rule across options, run after each has its type.
    ///   - factory: builds the handler from a route's options.
    public init(name: String, kind: HandlerKind, options: [String: HandlerCatalog.Entry.OptionType] = [:],
                check: HandlerCatalog.Entry.Check? = nil, factory: @escaping Factory) {
        self.name = name
        self.entry = HandlerCatalog.Entry(kind: kind, options: options, check: check)
        self.factory = factory
    }
}

/// Every handler a running server can name, by `PLUGIN.FUNCTION`: the
/// built-ins and, later, loaded plugins' functions. The config loader sees it
/// as a `HandlerCatalog`; route building asks it for handlers.
///
/// A value type, immutable once built; share it freely across threads.
public struct HandlerRegistry: Sendable {
    private var definitions: [String: HandlerDefinition] = [:]

    /// An empty registry.
    public init() {}

    /// A registry of `definitions`, whose names must be distinct (a
    /// programmer error otherwise: use `register` for names from outside).
    public init(_ definitions: [HandlerDefinition]) {
        for definition in definitions {
            precondition(register(definition), "handler \(definition.name) registered twice")
        }
    }

    /// Adds `definition`. Returns false, leaving the registry unchanged, when
    /// its name is taken already.
    public mutating func register(_ definition: HandlerDefinition) -> Bool {
        guard definitions[definition.name] == nil else { return false }
        definitions[definition.name] = definition
        return true
    }

    /// The definition named `name`, or nil.
    public subscript(name: String) -> HandlerDefinition? { definitions[name] }

    /// Every registered name, sorted.
    public var names: [String] { definitions.keys.sorted() }

    /// The config loader's view: each name with its kind, options and check.
    /// Built on each call (a dictionary copy); call it once per load.
    public var catalog: HandlerCatalog {
        HandlerCatalog(entries: definitions.mapValues(\.entry))
    }

    /// Builds the handler of `route` with its options, or nil when no
    /// definition has its handler's name (the config was then checked
    /// against some other catalog). Once per route, not per request.
    public func makeHandler(for route: RouteSpec, status: any ServerStatus) -> RouteHandler? {
        definitions[route.handler].map { $0.factory(route.options, status) }
    }
}
