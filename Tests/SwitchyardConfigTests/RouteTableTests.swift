import Testing
import SwitchyardConfig

@Suite("switchyard routes table")
struct RouteTableTests {
    @Test("one row per route with declared and effective mode, pool and warnings, then the warnings in full")
    func render() throws {
        let config = try #require(TestCatalog.config("""
            routes:
              - { path: /hello, handler: builtin.text, mode: sync }
              - { path: /report, methods: [GET, POST], handler: builtin.sleep }
              - { path: /wait, handler: builtin.delay, sync_to_thread: true }
              - { path: /crunch, handler: builtin.sleep, mode: process }
            """))
        let text = RouteTable.render(config)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "METHODS        PATH     HANDLER        DECLARED  EFFECTIVE  POOL     WARNINGS")
        #expect(lines[1] == "GET,HEAD       /hello   builtin.text   sync      sync       loop     -")
        #expect(lines[2] == "GET,HEAD,POST  /report  builtin.sleep  -         sync       loop     implicit sync mode")
        #expect(lines[3] == "GET,HEAD       /wait    builtin.delay  thread    async      loop     thread has no effect")
        #expect(lines[4] == "GET,HEAD       /crunch  builtin.sleep  process   process    process  -")
        #expect(lines[5] == "")
        #expect(lines[6].hasPrefix("t.yaml:3:53: warning: route /report: sync handler builtin.sleep has no declared mode"))
        #expect(lines[7].hasPrefix("t.yaml:4:60: warning: route /wait: sync_to_thread: true has no effect"))
        #expect(lines.count == 9 && lines[8] == "")
    }

    @Test("without warnings there is only the table")
    func noWarnings() throws {
        let config = try #require(TestCatalog.config("routes: [{ path: /a, handler: builtin.echo, mode: sync }]"))
        #expect(RouteTable.render(config) == """
            METHODS   PATH  HANDLER       DECLARED  EFFECTIVE  POOL  WARNINGS
            GET,HEAD  /a    builtin.echo  sync      sync       loop  -

            """)
    }

    @Test("POOL: the thread pool (default for thread_pool), process, or loop; DECLARED shows a default_mode")
    func poolColumn() throws {
        let config = try #require(TestCatalog.config("""
            default_mode: thread
            thread_pools: { reports: { size: 2 } }
            routes:
              - { path: /a, handler: builtin.sleep, mode: thread }
              - { path: /b, handler: builtin.sleep, mode: thread, pool: reports }
              - { path: /c, handler: builtin.sleep, pool: reports }
              - { path: /d, handler: builtin.sleep }
              - { path: /e, handler: builtin.cpu, mode: process }
              - { path: /f, handler: builtin.delay }
              - { path: /g, handler: builtin.echo, sync_to_thread: false }
              - { path: /h, handler: builtin.echo, sync_to_thread: true, pool: default }
            """))
        #expect(RouteTable.render(config) == """
            METHODS   PATH  HANDLER        DECLARED          EFFECTIVE  POOL     WARNINGS
            GET,HEAD  /a    builtin.sleep  thread            thread     default  -
            GET,HEAD  /b    builtin.sleep  thread            thread     reports  -
            GET,HEAD  /c    builtin.sleep  - (default_mode)  thread     reports  -
            GET,HEAD  /d    builtin.sleep  - (default_mode)  thread     default  -
            GET,HEAD  /e    builtin.cpu    process           process    process  -
            GET,HEAD  /f    builtin.delay  -                 async      loop     -
            GET,HEAD  /g    builtin.echo   sync              sync       loop     -
            GET,HEAD  /h    builtin.echo   thread            thread     default  -

            """)
    }
}
