// Foundation only for JSONEncoder; on Linux the smaller FoundationEssentials provides the same
// type (Foundation re-exports it), so users passing a Foundation `JSONEncoder` still match.
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension ServerSentEvent {
    /// Creates an event whose ``data`` is `value` encoded as JSON.
    ///
    /// JSON text from the default encoder has no raw line breaks (they are escaped inside
    /// strings), so it goes out as one `data:` line. A pretty-printing encoder produces several
    /// lines; they are split into several `data:` lines like any multi-line data, and a client
    /// joins them back into the same JSON text.
    ///
    /// - Parameters:
    ///   - value: The value to encode as the event's data.
    ///   - event: The event type; `nil` for the default `message`.
    ///   - id: The event id; see ``id``.
    ///   - retry: The reconnection time to send with this event; see ``retry``.
    ///   - encoder: The encoder to use, for custom date or key strategies.
    /// - Throws: Whatever `encoder` throws for `value` (an `EncodingError`).
    ///
    /// ```swift
    /// struct Price: Encodable { var symbol: String; var cents: Int }
    /// let event = try ServerSentEvent(json: Price(symbol: "ACME", cents: 1250), event: "price")
    /// ```
    public init(
        json value: some Encodable,
        event: String? = nil,
        id: String? = nil,
        retry: Duration? = nil,
        encoder: JSONEncoder = JSONEncoder()
    ) throws {
        let json = try encoder.encode(value)
        self.init(
            data: String(decoding: json, as: UTF8.self), event: event, id: id, retry: retry)
    }
}
