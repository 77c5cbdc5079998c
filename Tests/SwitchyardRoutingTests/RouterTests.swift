import Testing
import SwitchyardRouting

/// Builds a router from `(path, methods)` pairs and matches request paths.
struct Table {
    let routes: [Router.Route]
    let router: Router

    init(_ entries: [(String, MethodSet)]) throws {
        routes = try entries.map { Router.Route(pattern: try RoutePattern(parsing: $0.0), methods: $0.1) }
        router = Router(routes: routes)
    }

    /// The matched route's path text and its captured parameters as strings.
    func match(_ path: String, _ method: MethodSet? = .get) -> (outcome: String, parameters: [String]) {
        var parameters = RouteParameters()
        let bytes = Array(path.utf8)
        return bytes.withUnsafeBytes { raw in
            switch router.match(path: raw, method: method, parameters: &parameters) {
            case .found(let index):
                let captured = (0..<parameters.count).map { i in
                    let (start, end) = parameters[i]
                    return String(decoding: raw[start..<end], as: UTF8.self)
                }
                return (routes[index].pattern.text, captured)
            case .methodNotAllowed(let allowed):
                return ("405 \(allowed)", [])
            case .notFound:
                return ("404", [])
            }
        }
    }
}

@Suite("Router")
struct RouterTests {
    static let get: MethodSet = [.get, .head]

    @Test func literalParameterAndRest() throws {
        let t = try Table([
            ("/", Self.get),
            ("/hello", Self.get),
            ("/users/{id}", Self.get),
            ("/users/{id}/files/{path...}", Self.get),
            ("/static/{rest...}", Self.get),
        ])
        #expect(t.match("/").outcome == "/")
        #expect(t.match("/hello").outcome == "/hello")
        #expect(t.match("/users/42") == ("/users/{id}", ["42"]))
        #expect(t.match("/users/42/files/a/b/c.txt") == ("/users/{id}/files/{path...}", ["42", "a/b/c.txt"]))
        #expect(t.match("/static/css/site.css") == ("/static/{rest...}", ["css/site.css"]))
        #expect(t.match("/static/") == ("/static/{rest...}", [""]), "a final {rest...} may be empty")
        #expect(t.match("/static").outcome == "404", "the slash before {rest...} is part of the route")
    }

    @Test func catchAllAtTheRootMatchesTheRoot() throws {
        let t = try Table([("/{rest...}", Self.get)])
        #expect(t.match("/") == ("/{rest...}", [""]))
        #expect(t.match("/a/b") == ("/{rest...}", ["a/b"]))
        let withRoot = try Table([("/", Self.get), ("/{rest...}", Self.get)])
        #expect(withRoot.match("/").outcome == "/", "a route for / itself is more specific")
    }

    @Test func notFound() throws {
        let t = try Table([("/hello", Self.get), ("/users/{id}", Self.get)])
        #expect(t.match("/nope").outcome == "404")
        #expect(t.match("/hello/extra").outcome == "404")
        #expect(t.match("/users").outcome == "404")
        #expect(t.match("/users/").outcome == "404", "{param} needs a non-empty segment")
        #expect(t.match("/users/1/2").outcome == "404")
        #expect(t.match("/Hello").outcome == "404", "literals are case-sensitive")
        #expect(t.match("").outcome == "404")
        #expect(t.match("hello").outcome == "404")
    }

    @Test func trailingSlashIsADifferentPath() throws {
        let t = try Table([("/a", Self.get), ("/b/", Self.get)])
        #expect(t.match("/a").outcome == "/a")
        #expect(t.match("/a/").outcome == "404")
        #expect(t.match("/b/").outcome == "/b/")
        #expect(t.match("/b").outcome == "404")
    }

    @Test func mostSpecificWinsWhateverTheOrder() throws {
        let entries: [(String, MethodSet)] = [
            ("/files/{rest...}", Self.get),
            ("/files/{name}", Self.get),
            ("/files/readme", Self.get),
        ]
        for order in [entries, entries.reversed()] {
            let t = try Table(order)
            #expect(t.match("/files/readme").outcome == "/files/readme")
            #expect(t.match("/files/other") == ("/files/{name}", ["other"]))
            #expect(t.match("/files/a/b") == ("/files/{rest...}", ["a/b"]))
        }
    }

    @Test func backtracksWhenTheLiteralBranchDeadEnds() throws {
        let t = try Table([
            ("/a/b/c", Self.get),
            ("/a/{x}/d", Self.get),
            ("/{any...}", Self.get),
        ])
        #expect(t.match("/a/b/c").outcome == "/a/b/c")
        #expect(t.match("/a/b/d") == ("/a/{x}/d", ["b"]), "the literal b leads nowhere; {x} does")
        #expect(t.match("/a/b/e") == ("/{any...}", ["a/b/e"]), "parameters of failed branches are dropped")
    }

    @Test func methodNotAllowedListsTheUnion() throws {
        let t = try Table([
            ("/items", [.get]),
            ("/items/{id}", [.put]),
            ("/items/{rest...}", [.delete]),
        ])
        #expect(t.match("/items", .post).outcome == "405 GET, HEAD", "a GET route serves HEAD, so Allow names it")
        #expect(t.match("/items/7", .post).outcome == "405 PUT, DELETE")
        #expect(t.match("/items/7", .delete) == ("/items/{rest...}", ["7"]),
                "a less specific route that allows the method still answers")
        #expect(t.match("/items", nil).outcome == "405 GET, HEAD", "an unknown method matches nothing")
    }

    @Test func headIsServedByGet() throws {
        let t = try Table([("/only-get", [.get]), ("/only-post", [.post])])
        #expect(t.match("/only-get", .head).outcome == "/only-get")
        #expect(t.match("/only-post", .head).outcome == "405 POST")
    }

    @Test func sameShapeDifferentMethodsCoexist() throws {
        let t = try Table([("/thing/{id}", [.get]), ("/thing/{key}", [.post])])
        #expect(t.match("/thing/1", .get) == ("/thing/{id}", ["1"]))
        #expect(t.match("/thing/1", .post) == ("/thing/{key}", ["1"]))
        #expect(t.match("/thing/1", .put).outcome == "405 GET, HEAD, POST")
    }

    @Test func manyParametersUpToCapacity() throws {
        let pattern = "/" + (0..<RouteParameters.capacity).map { "{p\($0)}" }.joined(separator: "/")
        let t = try Table([(pattern, Self.get)])
        let path = "/" + (0..<RouteParameters.capacity).map(String.init).joined(separator: "/")
        #expect(t.match(path).parameters == (0..<RouteParameters.capacity).map(String.init))
    }
}

@Suite("Route patterns")
struct RoutePatternTests {
    @Test(arguments: [
        ("hello", 0), ("/a/{", 3), ("/a/{}", 3), ("/a/{x-y}", 4), ("/{x}/{x}", 6),
        ("/{rest...}/more", 1), ("/a{b}", 2), ("/a//b", 3),
        ("/q?x=1", 2), ("/a#b", 2), ("/a b", 2), ("/a/%zz", 3), ("/a%2Fb", 2), ("/a%00", 2),
        ("/" + (0...16).map { "{p\($0)}" }.joined(separator: "/"), 87),   // at the 17th
    ])
    func rejects(_ text: String, _ offset: Int) {
        #expect(throws: RoutePattern.ParseError.self) { try RoutePattern(parsing: text) }
        do {
            _ = try RoutePattern(parsing: text)
        } catch {
            #expect(error.offset == offset, "\(text): \(error.message)")
        }
    }

    @Test func literalsArePercentDecodedLikeRequests() throws {
        let t = try Table([("/caf%C3%A9", RouterTests.get), ("/a%20b", RouterTests.get)])
        #expect(t.match("/café").outcome == "/caf%C3%A9")
        #expect(t.match("/a b").outcome == "/a%20b")
    }

    @Test func parameterNamesInOrder() throws {
        let p = try RoutePattern(parsing: "/org/{org}/repo/{repo}/{path...}")
        #expect(p.parameterNames == ["org", "repo", "path"])
        #expect(p.description == "/org/{org}/repo/{repo}/{path...}")
        #expect(try RoutePattern(parsing: "/").segments.isEmpty)
    }

    @Test func methodSetNamesAndAllowOrder() {
        #expect(MethodSet(name: "DELETE") == .delete)
        #expect(MethodSet(name: "get") == nil, "method names are case-sensitive")
        #expect(MethodSet([.post, .get, .options]).description == "GET, POST, OPTIONS")
    }
}
