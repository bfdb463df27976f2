import RillCore
import RillHTTP

/// Event streams at shutdown, and the chunks every stream shares.
extension HTTPConnection {
    /// Shutdown began: an event stream is cancelled now (it would never end by itself) so it
    /// can send its farewell; other responses get the grace period.
    func serverIsShuttingDown() {
        if let http2 { return http2.serverIsShuttingDown() }
        if let relay {
            relay.serverIsShuttingDown()
        } else if cycle.streamingEvents {
            cycle.isCancelled = true
            cycle.handlerTask?.cancel()
        }
        closeWhenIdle()
    }

    /// Whether the connection serves an event stream (HTTP/2: any of its streams does).
    var isStreamingEvents: Bool {
        if let http2 { return http2.hasEventStreams }
        return relay != nil || cycle.streamingEvents
    }

    static let heartbeatComment: [UInt8] = Array(":\n\n".utf8)
    /// The heartbeat framed as a chunk once, shared by every connection.
    static let heartbeatChunk: [UInt8] = Array("3\r\n:\n\n\r\n".utf8)
    /// The opening comment framed as a chunk once, shared by every connection.
    static let openingChunk: [UInt8] = Array("5\r\n:ok\n\n\r\n".utf8)

    /// The shared chunk of `bytes` when they are the heartbeat or the opening comment. Those
    /// are passed as the very same arrays, so the comparison is an identity check.
    static func sharedChunk(of bytes: [UInt8]) -> [UInt8]? {
        if bytes == EventStreamWriter.openingComment { return openingChunk }
        if bytes == heartbeatComment { return heartbeatChunk }
        return nil
    }
}
