import RillTestSupport
import RillTesting

/// A running `rill-hub` process (see `ExampleProcess`).
typealias HubProcess = ExampleProcess

extension ExampleProcess {
    /// Starts `rill-hub --host 127.0.0.1 --port 0 ARGUMENTS`, under `openFileLimit` if given.
    convenience init(_ arguments: [String] = [], openFileLimit: Int? = nil) async throws {
        try await self.init("rill-hub", arguments: arguments, openFileLimit: openFileLimit)
    }

    /// A client for this process.
    var client: TestClient { TestClient(port: port) }
}
