import RillTestSupport

/// A running `Notifications` example process (see `ExampleProcess`).
typealias NotificationsProcess = ExampleProcess

extension ExampleProcess {
    /// Starts `Notifications --host 127.0.0.1 --port 0 --redis URL`.
    convenience init(redisURL: String) async throws {
        try await self.init("Notifications", arguments: ["--redis", redisURL])
    }
}
