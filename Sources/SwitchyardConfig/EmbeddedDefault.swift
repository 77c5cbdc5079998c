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

          # Demo routes, one per execution mode that exists so far.
          - { path: /hello, handler: builtin.text, mode: sync, options: { body: "hello\\n", content_type: text/plain } }
          - { path: /echo, methods: [GET, POST], handler: builtin.echo, mode: sync }

          # Still to come with their handlers (a later issue):
          #   GET /metrics (builtin.metrics) and GET /admin/modes (builtin.modes),
          #   both with allow: [127.0.0.0/8, "::1"];
          #   demo routes for mode: async (builtin.delay), mode: thread
          #   (builtin.sleep) and mode: process (builtin.cpu).

        """
}
