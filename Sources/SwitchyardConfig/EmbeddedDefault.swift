/// The config `serve` uses when no file is named and
/// `/etc/switchyard/switchyard.yaml` does not exist.
public enum EmbeddedDefault {
    /// What diagnostics and `Config.source` call it.
    public static let name = "<embedded default>"

    /// Listens on 127.0.0.1:8080 with the health endpoints and demo routes.
    /// Valid against `Builtins.catalog`; a test keeps it so.
    public static let yaml = """
        # Switchyard's embedded default config, used when there is no --config,
        # no $SWITCHYARD_CONFIG and no /etc/switchyard/switchyard.yaml.
        # `switchyard routes` prints what it serves.
        listen: ["127.0.0.1:8080"]

        routes:
          # Liveness: 200 while the process and its event loops answer.
          - { path: /livez, handler: builtin.health, mode: sync }
          - { path: /healthz, handler: builtin.health, mode: sync }
          # Readiness: 200 while serving, 503 while starting or draining.
          - { path: /readyz, handler: builtin.ready, mode: sync }

          # Demo routes, one for every execution mode.
          # sync: on the event loop; fine for work that never blocks.
          - { path: /hello, handler: builtin.text, mode: sync, options: { body: "hello\\n", content_type: text/plain } }
          - { path: /echo, methods: [GET, HEAD, POST], handler: builtin.echo, mode: sync }
          # async: waits ?ms=N on the loop's timer while the loop serves others.
          - { path: /delay, handler: builtin.delay, mode: async }
          # thread: blocks a thread_pool thread for ?ms=N, never the loop.
          - { path: /sleep, handler: builtin.sleep, mode: thread }
          # process: the CPU job (?rounds=N) in a child worker process.
          - { path: /cpu, handler: builtin.cpu, mode: process }
          # The echo again in a pool thread and in a worker: see pid and thread.
          - { path: /echo/thread, methods: [GET, POST], handler: builtin.echo, mode: thread }
          - { path: /echo/process, methods: [GET, POST], handler: builtin.echo, mode: process }

          # Still to come with their handlers (a later issue): GET /metrics
          # (builtin.metrics), GET /admin/modes (builtin.modes) and GET /admin/
          # (builtin.admin), with allow: [127.0.0.0/8, "::1"].

        """
}
