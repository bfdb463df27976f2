import RillTestSupport
import RillTesting

/// A running `rill-hub` process (see `ExampleProcess`).
typealias HubProcess = ExampleProcess

extension ExampleProcess {
    /// Starts `rill-hub --host 127.0.0.1 --port 0 ARGUMENTS`.
    convenience init(_ arguments: [String] = []) async throws {
        try await self.init("rill-hub", arguments: arguments)
    }

    /// A client for this process.
    var client: TestClient { TestClient(port: port) }
}
