/// Where a streamed response body goes: on the live server the client's connection, in the
/// in-process test client (`app.test(.router)`) a collector. ``ResponseBodyWriter``,
/// ``EventStreamWriter`` and ``ResponseBody/write(to:)`` write to a sink and know nothing else
/// of the server. Loop thread only.
///
/// A sink is a class, held as a class existential: a write costs one indirect call, no box and
/// no allocation.
package protocol ResponseBodySink: AnyObject, Sendable {
    /// Whether the client is gone (or was disconnected): writes throw ``ConnectionClosedError``.
    var isClosed: Bool { get }
    /// Bytes handed over that the client has not received yet.
    var queuedBytes: Int { get }
    /// Whether the server is shutting down (an event stream may send its farewell).
    var isShuttingDown: Bool { get }
    /// The server's event-stream settings, for a stream without its own.
    var eventStreamDefaults: EventStreamConfiguration { get }

    /// Writes one piece of a streamed body; suspends while more than the server's high-water
    /// mark is queued.
    func writeBodyChunk(_ bytes: [UInt8]) async throws
    /// Suspends while more than the server's high-water mark is queued for the client.
    func waitUntilWritable() async throws

    /// The response is an event stream with `configuration`: heartbeats start.
    func beginEventStream(_ configuration: EventStreamConfiguration)
    /// Writes one or more complete encoded events at once, never waiting.
    func writeEvents(_ bytes: [UInt8])
    /// ``writeEvents(_:)`` for bytes the caller holds only for the call (a stack buffer); the
    /// default copies them into an array.
    func writeEvents(contentsOf bytes: UnsafeRawBufferPointer)
    /// The event stream ended: heartbeats stop.
    func endEventStream()
    /// The slow-client policy's disconnect: close now, dropping what is queued.
    func disconnectSlowClient()
}

extension ResponseBodySink {
    package func writeEvents(contentsOf bytes: UnsafeRawBufferPointer) { writeEvents(Array(bytes)) }
}
