import Rill
import RillTesting
import Testing

/// Every endpoint of the Notifications and Counter examples, error cases included, against the
/// real executables on a free port.
@Suite struct ExampleEndpointTests {
    private let json: HTTPFields = [.contentType: "application/json"]

    @Test func `notifications serves its page and relays a post to the stream`() async throws {
        try await withExampleServer("Notifications") { server in
            let client = TestClient(port: server.port)
            let page = try await client.get("/")
            #expect(page.status == .ok)
            #expect(page.headerFields[.contentType] == "text/html; charset=utf-8")
            #expect(page.bodyText.contains("import { subscribe } from '/rill.js'"))
            let script = try await client.get("/rill.js")
            #expect(script.status == .ok)
            #expect(script.headerFields[.contentType] == "text/javascript; charset=utf-8")
            #expect(script.bodyText.contains("export function subscribe("))
            // The page is a file: validators and 304, its channel from /config.json.
            let etag = try #require(page.headerFields[.eTag])
            #expect(try await client.get("/", headerFields: [.ifNoneMatch: etag]).status == .notModified)
            #expect(try await client.get("/static/index.html").bodyText == page.bodyText)
            #expect(try await client.get("/config.json").decode([String: String].self) == ["channel": "sse"])
            let stream = try await client.sse("/stream")
            try await stream.waitForBody(containing: ":ok")
            let sent = try await client.post("/send_notification", text: #"{"message":"Hello!"}"#, headerFields: json)
            #expect(sent.status == .ok)
            let outcome = try sent.decode([String: String].self)
            #expect(outcome["status"] == "success")
            let events = try await stream.events(1)
            #expect(events == [MessageEvent(type: "notify", data: #"{"message":"Hello!"}"#, lastEventID: outcome["id"] ?? "?")])
            stream.close()
        }
    }

    @Test func `notifications rejects missing, empty and malformed messages with a 400`() async throws {
        try await withExampleServer("Notifications") { server in
            let client = TestClient(port: server.port)
            for body in ["{}", #"{"message":""}"#, #"{"message":"   "}"#, "{not json", #"{"message":42}"#] {
                let response = try await client.post("/send_notification", text: body, headerFields: json)
                #expect(response.status == .badRequest, "\(body)")
                let outcome = try response.decode([String: String].self)
                #expect(outcome["status"] == "error", "\(body)")
                #expect(!(outcome["message"] ?? "").isEmpty, "\(body)")
            }
            let wrongType = try await client.post("/send_notification", text: "message=hi")
            #expect(wrongType.status == .unsupportedMediaType)
            #expect(try wrongType.decode([String: String].self)["status"] == "error")
            let tooLarge = try await client.post(
                "/send_notification", text: #"{"message":""# + String(repeating: "x", count: 20_000) + #""}"#, headerFields: json)
            #expect(tooLarge.status == .contentTooLarge)
        }
    }

    @Test func `counter counts once per interval and resumes after Last-Event-ID`() async throws {
        try await withExampleServer("Counter") { server in
            let client = TestClient(port: server.port)
            let stream = try await client.sse("/stream?interval_ms=50", headerFields: [HTTPField.Name("Last-Event-ID")!: "41"])
            #expect(stream.status == .ok)
            let events = try await stream.events(3)
            #expect(events.map(\.lastEventID) == ["42", "43", "44"])
            for (offset, event) in events.enumerated() {
                #expect(event.data.contains(#""count":\#(42 + offset)"#))
                #expect(event.data.contains(#""message":"Hello""#))
                #expect(event.data.contains(#""time":"20"#))
            }
            stream.close()
            for interval in ["5", "1e3", "99999999999999999999", "", "fast"] {
                let bad = try await client.get("/stream?interval_ms=\(interval)")
                #expect(bad.status == .badRequest, "interval_ms=\(interval)")
                #expect(bad.bodyText.contains("interval_ms"))
            }
            #expect(try await client.get("/").status == .ok)
        }
    }

    @Test(arguments: [("Counter", "/stream?interval_ms=50"), ("Hello", "/events"), ("SSETestServer", "/events")])
    func `a Last-Event-ID the example never sent starts over instead of overflowing`(example: String, path: String) async throws {
        try await withExampleServer(example) { server in
            let client = TestClient(port: server.port)
            for id in ["9223372036854775807", "-9223372036854775808", "4294967296", "x"] {
                let stream = try await client.sse(path, headerFields: [HTTPField.Name("Last-Event-ID")!: id])
                #expect(stream.status == .ok, "\(example) \(id)")
                #expect(try await stream.events(1).map(\.lastEventID) == ["1"], "\(example) \(id)")
                stream.close()
            }
            #expect(try await client.get("/").status == .ok)  // still up
        }
    }

    @Test func `counter logs when a client leaves and the sequence stops`() async throws {
        try await withExampleServer("Counter") { server in
            let client = TestClient(port: server.port)
            let stream = try await client.sse("/stream?interval_ms=20")
            _ = try await stream.events(2)
            stream.close()
            let deadline = ContinuousClock.now + .seconds(10)
            while !server.standardError.contains("client disconnected, sequence stopped"), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(server.standardError.contains("client disconnected, sequence stopped"))
        }
    }
}
