import Foundation
import Testing
import SwitchyardConfig

@Suite("include: files of routes and plugins")
struct IncludeTests {
    static let main = """
        listen: ["127.0.0.1:0"]
        include: ["routes.d/*.yaml"]
        routes:
          - { path: /main, handler: builtin.echo, mode: sync }
        """

    static func failure(_ dir: TemporaryDirectory, _ mainPath: String) -> [String] {
        do {
            _ = try TestCatalog.loader().load(file: mainPath)
            return []
        } catch {
            return error.diagnostics.filter { $0.severity == .error }.map(\.description)
        }
    }

    @Test("routes from every matching file are added, in glob order")
    func routesAdded() throws {
        let dir = try TemporaryDirectory()
        let mainPath = try dir.write("switchyard.yaml", Self.main)
        try dir.write("routes.d/b.yaml", "routes:\n  - { path: /b, handler: builtin.echo, mode: sync }\n")
        let aPath = try dir.write("routes.d/a.yaml", "routes:\n  - { path: /a, handler: builtin.echo, mode: sync }\n")
        try dir.write("routes.d/ignored.txt", "not: yaml\n")
        let config = try TestCatalog.loader().load(file: mainPath)
        #expect(config.routes.map(\.path) == ["/main", "/a", "/b"])
        #expect(config.routes[1].location == SourceLocation(file: aPath, line: 2, column: 5))
    }

    @Test("an error inside an included file points at that file")
    func errorInIncludedFile() throws {
        let dir = try TemporaryDirectory()
        let mainPath = try dir.write("switchyard.yaml", Self.main)
        let included = try dir.write("routes.d/extra.yaml", """
            routes:
              - path: /extra
                handler: builtin.text
                mode: sync
                options: { colour: red }
            """)
        #expect(Self.failure(dir, mainPath) == [
            "\(included):5:16: error: unknown option 'colour' for builtin.text; expected one of: body, content_type, status",
        ])
    }

    @Test("a route defined twice across files names both places")
    func duplicateAcrossFiles() throws {
        let dir = try TemporaryDirectory()
        let mainPath = try dir.write("switchyard.yaml", Self.main)
        let included = try dir.write("routes.d/dup.yaml", """
            # the same route as the main file's
            routes:
              - { path: /main, handler: builtin.text, mode: sync }
            """)
        #expect(Self.failure(dir, mainPath) == [
            "\(included):3:5: error: route /main can never be told apart from the one at \(mainPath):4:5: "
                + "both answer GET,HEAD on the same path; give one a different path or different methods",
        ])
    }

    @Test("an included file holds only routes and plugins")
    func onlyRoutesAndPlugins() throws {
        let dir = try TemporaryDirectory()
        let mainPath = try dir.write("switchyard.yaml", Self.main)
        let included = try dir.write("routes.d/x.yaml", """
            listen: ["127.0.0.1:1"]
            include: ["more/*.yaml"]
            rutes: []
            plugins: []
            """)
        #expect(Self.failure(dir, mainPath) == [
            "\(included):1:1: error: 'listen' is not allowed in an included file; an included file holds only routes: and plugins:",
            "\(included):2:1: error: includes do not nest: 'include' is not allowed in an included file",
            "\(included):3:1: error: unknown key 'rutes' in included file; expected one of: plugins, routes; did you mean 'routes'?",
        ])
    }

    @Test("plugins from an included file count for every file's routes")
    func pluginsFromIncludedFile() throws {
        let dir = try TemporaryDirectory()
        let mainPath = try dir.write("switchyard.yaml", Self.main + "\n  - { path: /r, handler: reports.render, mode: thread }\n")
        try dir.write("routes.d/plugins.yaml", "plugins:\n  - { name: reports, path: /usr/lib/libreports.so }\n")
        #expect(Self.failure(dir, mainPath) == [
            "\(mainPath):5:26: error: handler 'reports.render' is in plugin 'reports', whose handlers cannot be used: "
                + "loading shared-library plugins is not supported yet",
        ])
    }

    @Test("a pattern that matches nothing is fine; a syntax error in an included file points there")
    func noMatchAndSyntaxError() throws {
        let dir = try TemporaryDirectory()
        let mainPath = try dir.write("switchyard.yaml", """
            include: ["nothing/*.yaml", "conf.d/*.yaml"]
            """)
        #expect(Self.failure(dir, mainPath).isEmpty)
        let broken = try dir.write("conf.d/broken.yaml", "routes:\n  - { path: /a\n")
        let errors = Self.failure(dir, mainPath)
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("\(broken):3:1: error: invalid yaml:") == true, "\(errors)")
    }

    @Test("a pattern that also matches the including file does not read it again")
    func selfMatchSkipped() throws {
        let dir = try TemporaryDirectory()
        let mainPath = try dir.write("switchyard.yaml", Self.main.replacingOccurrences(of: "routes.d/*.yaml", with: "./*.yaml"))
        try dir.write("more.yaml", "routes:\n  - { path: /more, handler: builtin.echo, mode: sync }\n")
        let config = try TestCatalog.loader().load(file: mainPath)
        #expect(config.routes.map(\.path) == ["/main", "/more"])
    }

    @Test("load(yaml:) resolves includes against its base directory")
    func baseDirectory() throws {
        let dir = try TemporaryDirectory()
        try dir.write("routes.d/a.yaml", "routes:\n  - { path: /a, handler: builtin.echo, mode: sync }\n")
        let config = try TestCatalog.loader().load(yaml: Self.main, name: "inline", baseDirectory: dir.path)
        #expect(config.routes.map(\.path) == ["/main", "/a"])
        #expect(config.routes[1].location.file == dir.path + "/routes.d/a.yaml")
    }

    @Test("an include that names one file must find it; a pattern may match nothing")
    func literalIncludeMustExist() throws {
        let dir = try TemporaryDirectory()
        let mainPath = try dir.write("switchyard.yaml", """
            include: ["none/*.yaml", "extra.yaml"]
            """)
        #expect(Self.failure(dir, mainPath) == [
            "\(mainPath):1:26: error: included file 'extra.yaml' does not exist (a pattern with * ? or [ may match nothing; a file name must)",
        ])
    }

    @Test("a config directory whose name has glob characters still finds its includes")
    func globCharactersInDirectory() throws {
        let dir = try TemporaryDirectory()
        let mainPath = try dir.write("site[1]/switchyard.yaml", Self.main)
        let broken = try dir.write("site[1]/routes.d/a.yaml", "routes:\n  - { path: /a, handler: builtin.nope }\n")
        let errors = Self.failure(dir, mainPath)
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("\(broken):2:26: error: unknown handler 'builtin.nope'") == true, "\(errors)")
    }

    @Test("bytes that are not UTF-8 are reported where they are, in the included file")
    func invalidUTF8InIncludedFile() throws {
        let dir = try TemporaryDirectory()
        let mainPath = try dir.write("switchyard.yaml", Self.main)
        let bad = dir.path + "/routes.d/bad.yaml"
        try FileManager.default.createDirectory(atPath: dir.path + "/routes.d", withIntermediateDirectories: true)
        try Data(Array("routes:\n  - { path: /a".utf8) + [0xFF] + Array(" }\n".utf8)).write(to: URL(fileURLWithPath: bad))
        #expect(Self.failure(dir, mainPath) == ["\(bad):2:15: error: not valid utf-8"])
    }
}
