import Foundation
import Rill
import Testing

/// Rill's streams read by a Python SSE client from PyPI: sseclient-py over requests
/// (Tests/browser/python_sse_client.py; `make test` pip-installs both).
///
/// sseclient-py reports each event's own block `id` (nil when the block had none) rather than the
/// stream's last event id carried forward, so ids are compared with `Fixture.ownIDs`; everything
/// else (type, multi-line data, empty data, the leading space, U+2028, unicode, the trailing
/// newline, blocks without data not dispatched) is compared with what a browser dispatches.
@Suite(.timeLimit(.minutes(1)))
struct PythonClientTests {
    @Test func `sseclient-py decodes the fixture's multi-line data, ids and named events exactly`() async throws {
        let events = try await withTestServer { server in
            try await runPythonClient(url: "\(server.baseURL)/fixture")
        }
        let expected = zip(Fixture.dispatched, Fixture.ownIDs).map { event, id in
            PythonEvent(event: event.type, data: event.data, id: id, retry: nil)
        }
        #expect(events == expected)
    }

    @Test func `sseclient-py receives each connection's events and its Last-Event-ID reaches the server`() async throws {
        let (first, resumed, seen) = try await withTestServer { server in
            let first = try await runPythonClient(url: "\(server.baseURL)/events")
            // Reconnect as a client would: with the id of the last event received.
            let lastID = try #require(first.last?.id)
            let resumed = try await runPythonClient(url: "\(server.baseURL)/events", lastEventID: lastID)
            return (first, resumed, try await seenConnections(port: server.port))
        }
        #expect(first == (1...3).map(PythonEvent.init(expectedID:)))
        #expect(resumed == (4...6).map(PythonEvent.init(expectedID:)))
        #expect(seen.map(\.lastEventID) == [nil, "3"])
    }
}

/// One line of python_sse_client.py's output: the event as sseclient-py reports it.
struct PythonEvent: Decodable, Equatable, Sendable, CustomStringConvertible {
    var event: String
    var data: String
    var id: String?
    var retry: String?

    init(event: String, data: String, id: String?, retry: String?) {
        self.event = event
        self.data = data
        self.id = id
        self.retry = retry
    }

    /// What `/events` sends for `expectedID`; every event there has its own `id` line.
    init(expectedID id: Int) {
        let event = expectedEvent(id: id)
        self.init(event: event.type, data: event.data, id: event.lastEventID, retry: nil)
    }

    var description: String { "\(event) \(data.debugDescription) id=\(id ?? "nil")" }
}

/// Runs python_sse_client.py against `url` (30 s at most) and decodes its JSON lines.
func runPythonClient(
    url: String, lastEventID: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
) async throws -> [PythonEvent] {
    var arguments = Paths.python + [Paths.browserScript("python_sse_client.py").path, url]
    if let lastEventID { arguments += ["--last-event-id", lastEventID] }
    let output = try await runProcess(arguments, timeout: .seconds(30))
    try #require(
        output.status == 0 && output.reason == .exit && !output.timedOut,
        "python_sse_client.py \(url): \(output.summary)", sourceLocation: sourceLocation)
    return try output.standardOutput.split(separator: "\n").map { line in
        try JSONDecoder().decode(PythonEvent.self, from: Data(line.utf8))
    }
}
