import RillSSE

/// `ServerSentEvent` encoding (`encode(into:)` and `encoded()`).
public enum SSEEncodingWorkload {
    /// A typical notification: `event`, `id` and a small JSON `data` (64 bytes on the wire).
    public static let smallEvent = ServerSentEvent(
        data: #"{"message":"hello","from":"ada"}"#, event: "notify", id: "12345")

    /// Eight lines of data (a pretty-printed JSON object, 198 bytes), written as eight `data:` lines.
    public static let multiLineEvent = ServerSentEvent(
        data: """
            {
              "id": 98231,
              "channel": "deployments",
              "status": "succeeded",
              "commit": "9f3c2a1b7e5d4c6f8a0b1c2d3e4f5a6b7c8d9e0f",
              "url": "https://ci.example.com/runs/98231",
              "durationSeconds": 184
            }
            """,
        event: "deploy", id: "98231")

    /// Appends `event` to a buffer that is cleared but keeps its capacity (the server's way:
    /// one buffer reused per connection). Returns the encoded size.
    public static func encode(_ event: ServerSentEvent, into buffer: inout [UInt8]) -> Int {
        buffer.removeAll(keepingCapacity: true)
        do { try event.encode(into: &buffer) } catch { fatalError("\(error)") }
        return buffer.count
    }

    /// `encoded()`: a new array per event (what `InMemoryBroker` does once per publish).
    public static func encoded(_ event: ServerSentEvent) -> [UInt8] {
        do { return try event.encoded() } catch { fatalError("\(error)") }
    }
}
