import Metrics
import Prometheus
import Rill

/// The Swift code of `Rill.docc/Observability.md`, compiled here so it cannot rot (never
/// called). `DocumentationSnippetTests` checks that the article shows exactly this code.
enum ObservabilitySnippets {
    // Observability.md: service group — begin
    static func serviceGroup(router: Router, otherService: some Service) async throws {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))  // before the application
        let app = try Application(router: router, configuration: .init(host: "0.0.0.0", port: 8080))
        router.get("/metrics") { _, _ in
            await app.reportMetrics()  // the loops' counters as of now
            return Response(headerFields: [.contentType: "text/plain; version=0.0.4"], body: .bytes(registry.emitToBuffer()))
        }
        let group = ServiceGroup(services: [app, otherService], gracefulShutdownSignals: [.sigterm, .sigint], logger: app.logger)
        try await group.run()  // SIGTERM: every service shuts down gracefully, streams get their farewell
    }
    // Observability.md: service group — end

    // Observability.md: request id — begin
    static func requestID(router: Router) {
        router.get("/orders/:id") { request, context in
            context.logger.info("looking the order up")  // metadata: request_id=3f9a0c12-000000000000002a
            return "order \(try context.parameter("id")) (request \(context.requestID?.description ?? "-"))"
        }
    }
    // Observability.md: request id — end
}
