import HTTPTypes
import RillCore
import RillHTTP
import RillPubSub

/// Event streams on a connection: opening bytes, heartbeats, the slow-client cap, shutdown, and
/// relaying a broker subscription with no task per client.
extension HTTPConnection {
    // MARK: Event streams

    var eventStreamDefaults: EventStreamConfiguration { server.configuration.eventStream }
    var isShuttingDown: Bool { server.isShuttingDown }

    /// Writes the opening bytes of an event stream — `retry:` if configured, else a comment — so
    /// the head and a first chunk are flushed and the client reaches OPEN; starts heartbeats.
    func openEventStream(_ configuration: EventStreamConfiguration) throws {
        beginEventStream(heartbeatInterval: configuration.heartbeatInterval)
        if let retry = configuration.retry {
            writeEventChunk(try ServerSentEvent(retry: retry).encoded())
        } else {
            writeEventChunk(Self.openingComment, preframed: Self.openingChunk)
        }
    }

    // MARK: Relaying a broker subscription (no task per stream)

    func startRelay(_ relay: SubscriptionRelay) {
        let configuration = relay.configuration ?? eventStreamDefaults
        relayMaxQueuedBytes = configuration.maxQueuedBytes
        updateRelayCheckBytes()
        relayFarewell = relay.farewell
        do {
            try openEventStream(configuration)
            for event in relay.leading { writeEventChunk(try event.encoded()) }
        } catch {
            relay.subscription.cancel()
            closeAfterResponse = true
            finishRelay(error: nil)
            return
        }
        relayedSubscription = relay.subscription
        // unowned(unsafe): the sink runs once per event per stream, and a checked unowned
        // reference costs an atomic operation each time. Safe: the connection outlives its
        // subscription's sink — closing cancels the subscription, which drops both closures.
        let replay = relay.subscription.attach(
            sink: { [unowned(unsafe) self] event in self.relayEvent(event) },
            ended: { [unowned self] error in self.finishRelay(error: error) })
        // What the replay holds leaves in one write.
        if replay.count == 1 {
            relayEvent(replay[0])
        } else if !replay.isEmpty {
            var batch: [UInt8] = []
            for event in replay { batch.append(contentsOf: event.encoded) }
            server.relayedEventCount += replay.count
            server.relayedWriteCount += 1
            writeEventChunk(batch)
            checkRelayQueue()
        }
    }

    /// A published event for the relayed subscription: appended to the pending bytes (the
    /// broker's pre-framed chunk, shared, not copied, when it is the only one), written by the
    /// server's flush queue — or once the socket drained, if libuv still holds a backlog.
    func relayEvent(_ event: BrokerEvent) {
        guard !isClosed else { return }
        server.relayedEventCount += 1
        let bytes = chunked ? event.chunk : event.encoded
        if relayBacklog.isEmpty {
            relayBacklog = bytes
            if !relayFlushQueued {
                if queuedBytes > 0 {
                    stream.notifyWhenQueuedBytes(atMost: 0)
                } else {
                    relayFlushQueued = true
                    server.eventStreamFlushQueue.enqueue(self)
                }
            }
        } else {
            relayBacklog.append(contentsOf: bytes)
        }
        if relayBacklog.count >= relayCheckBytes { checkRelayQueue() }
    }

    func flushRelayBacklog() {
        guard !relayBacklog.isEmpty, !isClosed else { return }
        let backlog = relayBacklog
        relayBacklog = []
        lastEventWriteMilliseconds = server.loop.nowMilliseconds
        server.relayedWriteCount += 1
        stream.write(backlog)
        updateRelayCheckBytes()
    }

    /// Bounds what a relayed stream holds. Pending bytes waiting only for their turn in the
    /// flush queue (the socket had no backlog) are written at once past
    /// ``relayEarlyWriteBytes``, or past the stream's limit: a burst is not a slow client. What
    /// is still held then, in libuv and pending, beyond `maxQueuedBytes` is a slow client.
    func checkRelayQueue() {
        let pending = relayBacklog.count
        if relayFlushQueued && queuedBytes == 0 && (pending >= Self.relayEarlyWriteBytes || pending > relayMaxQueuedBytes) {
            flushRelayBacklog()
        }
        if queuedBytes + relayBacklog.count > relayMaxQueuedBytes {
            disconnectSlowClient()
        } else {
            updateRelayCheckBytes()
        }
    }

    /// After a write: how many pending bytes call for ``checkRelayQueue()``. libuv's queue only
    /// shrinks until the next write, so a threshold from the queue as it is now is safe, and a
    /// published event costs no look at the socket.
    func updateRelayCheckBytes() {
        guard relayMaxQueuedBytes > 0 else { return }
        relayCheckBytes = min(Self.relayEarlyWriteBytes, max(1, relayMaxQueuedBytes - queuedBytes + 1))
    }

    /// Pending bytes of a relayed stream written without waiting for the flush queue: batching
    /// gains nothing beyond this size, and it bounds the memory a burst holds per stream.
    static let relayEarlyWriteBytes = 16 * 1024

    func finishRelay(error: SubscriptionError?) {
        relayedSubscription = nil
        guard !isClosed else { return }
        flushRelayBacklog()
        endEventStream()
        if error == nil {
            // No last chunk for a client that went away (EOF or reset cancelled the stream).
            if chunked && !handlingCancelled { stream.write(HTTPResponseSerializer.lastChunk) }
        } else {
            // A slow consumer or a closed broker: close, the client reconnects and replays.
            closeAfterResponse = true
        }
        finishResponse()
    }

    /// Marks the response as an event stream and starts its idle heartbeat.
    func beginEventStream(heartbeatInterval: Duration) {
        streamingEvents = true
        heartbeatMilliseconds = Self.milliseconds(heartbeatInterval)
        lastEventWriteMilliseconds = server.loop.nowMilliseconds
        updateTimeout()
    }

    func endEventStream() {
        streamingEvents = false
        heartbeatMilliseconds = 0
        updateTimeout()
    }

    /// Writes one or more encoded events as one chunk, in one socket write. `preframed` is the
    /// same bytes already framed as a chunk, shared between connections.
    func writeEventChunk(_ bytes: [UInt8], preframed: [UInt8]? = nil) {
        guard !isClosed, !bytes.isEmpty else { return }
        lastEventWriteMilliseconds = server.loop.nowMilliseconds
        if chunked, let preframed {
            stream.write(preframed)
        } else if chunked {
            var framed: [UInt8] = []
            framed.reserveCapacity(bytes.count + 12)
            HTTPResponseSerializer.writeChunk(bytes, into: &framed)
            stream.write(framed)
        } else {
            stream.write(bytes)
        }
        updateRelayCheckBytes()
    }

    /// The slow-client policy's disconnect: close now, dropping what is queued.
    func disconnectSlowClient() {
        server.noteSlowClientDisconnect()
        machine.connectionFailed(into: &actions)
        perform()
    }

    /// Shutdown began: an event stream is cancelled now (it would never end by itself) so it
    /// can send its farewell; other responses get the grace period.
    func serverIsShuttingDown() {
        if let subscription = relayedSubscription {
            flushRelayBacklog()
            if let farewell = relayFarewell, let bytes = try? farewell.encoded() { writeEventChunk(bytes) }
            subscription.cancel()
        } else if streamingEvents {
            handlingCancelled = true
            handlerTask?.cancel()
        }
        closeWhenIdle()
    }

    static let heartbeatComment: [UInt8] = Array(":\n\n".utf8)
    /// The heartbeat framed as a chunk once, shared by every connection.
    static let heartbeatChunk: [UInt8] = Array("3\r\n:\n\n\r\n".utf8)
    static let openingComment: [UInt8] = Array(":ok\n\n".utf8)
    /// The opening comment framed as a chunk once, shared by every connection.
    static let openingChunk: [UInt8] = Array("5\r\n:ok\n\n\r\n".utf8)
}
