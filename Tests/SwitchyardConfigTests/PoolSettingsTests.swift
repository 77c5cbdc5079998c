import Testing
import SwitchyardConfig

@Suite("Pools: process_pool.max_jobs and the reserved pool name")
struct PoolSettingsTests {
    @Test("max_jobs defaults to 0 (never recycle)")
    func maxJobsDefault() throws {
        let config = try #require(TestCatalog.config("process_pool: { size: 2 }"))
        #expect(config.processPool.maxJobs == 0)
        #expect(config.processPool == PoolSettings(size: 2, queue: 256, maxJobs: 0))
        #expect(config.threadPool.maxJobs == 0)
    }

    @Test("max_jobs is read", arguments: [0, 1, 1000, 10_000_000_000])
    func maxJobsRead(value: Int) throws {
        let config = try #require(TestCatalog.config("process_pool: { max_jobs: \(value) }"))
        #expect(config.processPool == PoolSettings(size: nil, queue: 256, maxJobs: value))
    }

    static let errorCases: [ErrorCase] = [
        ErrorCase(name: "negative max_jobs", yaml: """
            process_pool: { max_jobs: -1 }
            """, expected: "t.yaml:1:27: error: process_pool.max_jobs must be an integer of 0 or more; got -1"),
        ErrorCase(name: "max_jobs as text", yaml: """
            process_pool: { max_jobs: many }
            """, expected: "t.yaml:1:27: error: process_pool.max_jobs must be an integer of 0 or more; got 'many'"),
        ErrorCase(name: "max_jobs misspelt", yaml: """
            process_pool: { max_job: 5 }
            """, expected: "t.yaml:1:17: error: unknown key 'max_job' in process_pool; expected one of: size, queue, max_jobs; did you mean 'max_jobs'?"),
        ErrorCase(name: "max_jobs on thread_pool", yaml: """
            thread_pool: { max_jobs: 5 }
            """, expected: "t.yaml:1:16: error: max_jobs applies to process_pool only (it recycles worker processes); thread_pool takes: size, queue"),
        ErrorCase(name: "max_jobs on a named thread pool", yaml: """
            thread_pools: { reports: { max_jobs: 5 } }
            """, expected: "t.yaml:1:28: error: max_jobs applies to process_pool only (it recycles worker processes); thread_pools.reports takes: size, queue"),
        ErrorCase(name: "a thread pool named default", yaml: """
            thread_pools: { default: { size: 2 } }
            """, expected: "t.yaml:1:17: error: thread pool name 'default' is reserved for thread_pool, the pool thread-mode routes use without pool:; "
                + "set it under thread_pool or choose another name"),
        ErrorCase(name: "unknown pool with no thread_pools", yaml: """
            routes:
              - { path: /a, handler: builtin.sleep, mode: thread, pool: reports }
            """, expected: "t.yaml:2:61: error: unknown thread pool 'reports'; define it under thread_pools: (or leave pool out for thread_pool)"),
    ]

    @Test("mistakes give their exact FILE:LINE:COL diagnostic", arguments: errorCases)
    func exactDiagnostic(_ errorCase: ErrorCase) {
        #expect(TestCatalog.errors(errorCase.yaml) == [errorCase.expected])
    }

    @Test("pool: default names thread_pool")
    func poolDefault() throws {
        let config = try #require(TestCatalog.config("""
            routes:
              - { path: /a, handler: builtin.sleep, mode: thread, pool: default }
            """))
        #expect(config.routes[0].effectiveMode == .thread && config.routes[0].pool == nil)
    }

    @Test("a pool is kept only where it applies: mode: thread on an async handler runs on the loop")
    func poolOnlyInThreadMode() throws {
        let config = try #require(TestCatalog.config("""
            thread_pools: { reports: { size: 2 } }
            routes:
              - { path: /a, handler: builtin.delay, mode: thread, pool: reports }
            """))
        #expect(config.routes[0].effectiveMode == .async && config.routes[0].pool == nil)
        #expect(config.warnings.count == 1)
    }
}
