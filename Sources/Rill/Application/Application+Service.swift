@_spi(TestKit) public import ServiceLifecycle

/// An application is a swift-service-lifecycle `Service`: it runs in a `ServiceGroup` beside
/// the program's other services, and the group's graceful shutdown (on the signals the group
/// was given) is the application's ``Application/shutdown()``.
///
/// ```swift
/// let app = try Application(router: router, configuration: .init(port: 8080))
/// let group = ServiceGroup(
///     services: [app, otherService], gracefulShutdownSignals: [.sigterm, .sigint], logger: app.logger)
/// try await group.run()
/// ```
extension Application: Service {
    /// Whether the running task belongs to a `ServiceGroup` (it has a graceful shutdown manager),
    /// which then handles the shutdown signals instead of ``Application/run()``.
    ///
    /// swift-service-lifecycle exposes the manager only to its test kit (`@_spi(TestKit)`); this
    /// is the one place Rill reads it.
    static var runsInServiceGroup: Bool { TaskLocals.gracefulShutdownManager != nil }
}
