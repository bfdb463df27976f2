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

    /// The queued-bytes limit of the event stream in progress: its own configuration's
    /// ``EventStreamConfiguration/maxQueuedBytes`` (set when it opened), for the heartbeat's
    /// stalled-client check.
    var eventStreamMaxQueuedBytes: Int { relayMaxQueuedBytes }

    /// A response that will not be written (the connection closed while it was made): what it
    /// holds is released — a subscription is cancelled, or it would stay subscribed forever.
    func dropUnwritten(_ response: Response) {
        if case .subscription(let relay) = response.body.storage { relay.subscription.cancel() }
    }

    // MARK: Relaying a broker subscription (no task per stream)

    func startRelay(_ relay: SubscriptionRelay) {
        relay.claim.claim()
        let configuration = relay.configuration ?? eventStreamDefaults
        relayMaxQueuedBytes = configuration.maxQueuedBytes
        updateRelayCheckBytes()
        relayFarewell = relay.farewell
        // The client left (EOF or reset) while the handler subscribed: no later event would
        // end this stream.
        guard !handlingCancelled else {
            relay.subscription.cancel()
            closeAfterResponse = true
            finishRelay(error: nil)
            return
        }
        do {
            var writer = EventStreamWriter(sink: self, configuration: configuration)
            try writer.open()
            for event in relay.leading { writeEvents(try event.encoded()) }
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
        // Live events published during the replay wait in the subscription, behind it, up to
        // what the replay window leaves of the stream's limit.
        relay.subscription.attach(
            sink: { [unowned(unsafe) self] event in self.relayEvent(event) },
            ended: { [unowned self] error in self.finishRelay(error: error) },
            maxHeldBytes: max(0, relayMaxQueuedBytes - Self.replayWindowBytes(relayMaxQueuedBytes)))
        // The replay starts once the head and the opening left (the writes are being coalesced
        // now, so the socket's queue does not show them yet): a drain notice comes at once.
        if relay.subscription.hasPendingReplay { stream.notifyWhenQueuedBytes(atMost: 0) }
    }

    /// How much of a stream's queued-bytes limit its replay may fill: half, so that live events
    /// held behind it have the other half. At least 1: one event at a time.
    static func replayWindowBytes(_ maxQueuedBytes: Int) -> Int { max(1, maxQueuedBytes / 2) }

    /// Pieces of replay written per drain notice, so that one fast reader's long replay does not
    /// hold the loop: the next ones follow at the next notice.
    static let replayPiecesPerDrain = 4

    /// Writes the relayed subscription's replay while libuv holds less than the replay window,
    /// in pieces taken from the broker's history as the client reads (never the whole replay at
    /// once), and asks to be called again when the socket drained. When the replay is over the
    /// subscription hands over the live events it held meanwhile, in order.
    func pumpReplay() {
        guard let subscription = relayedSubscription, !isClosed else { return }
        let window = Self.replayWindowBytes(relayMaxQueuedBytes)
        var pieces = 0
        while queuedBytes < window, pieces < Self.replayPiecesPerDrain {
            let events = subscription.takeReplay(maxBytes: window - queuedBytes)
            // Ended: the history dropped events before they were replayed (or the client left).
            guard relayedSubscription === subscription, !isClosed else { return }
            guard !events.isEmpty else { return }
            writeReplayPiece(events)
            pieces += 1
        }
        if subscription.hasPendingReplay {
            stream.notifyWhenQueuedBytes(atMost: window / 2)
        } else {
            // The last piece emptied the replay: the live events held behind it follow.
            subscription.releaseHeldEvents()
        }
    }

    /// Writes `events` in one write, as one chunk (a lone event's shared pre-framed chunk).
    func writeReplayPiece(_ events: [BrokerEvent]) {
        server.relayedEventCount += events.count
        server.relayedWriteCount += 1
        lastEventWriteMilliseconds = server.loop.nowMilliseconds
        if events.count == 1 {
            writeEvent(events[0])
            return
        }
        var size = 0
        for event in events { size += event.encodedBytes.count }
        var piece: [UInt8] = []
        piece.reserveCapacity(size + 12)
        if chunked {
            piece.append(contentsOf: String(size, radix: 16).utf8)
            piece.append(13)
            piece.append(10)
        }
        for event in events { piece.append(contentsOf: event.encodedBytes) }
        if chunked {
            piece.append(13)
            piece.append(10)
        }
        stream.write(piece)
        updateRelayCheckBytes()
    }

    /// Writes one broker event: its shared pre-framed chunk, or its bytes on an HTTP/1.0
    /// stream; no copy either way.
    func writeEvent(_ event: BrokerEvent) {
        guard !isClosed else { return }
        lastEventWriteMilliseconds = server.loop.nowMilliseconds
        if chunked {
            stream.write(event.chunk)
        } else {
            event.encodedBytes.withUnsafeBytes { stream.write($0) }
        }
        updateRelayCheckBytes()
    }

    /// A published event for the relayed subscription: appended to the pending bytes (the
    /// broker's pre-framed chunk, shared, not copied, when it is the only one), written by the
    /// server's flush queue — or once the socket drained, if libuv still holds a backlog.
    func relayEvent(_ event: BrokerEvent) {
        guard !isClosed else { return }
        server.relayedEventCount += 1
        if relayBacklog.isEmpty {
            if chunked { relayBacklog = event.chunk } else { relayBacklog.append(contentsOf: event.encodedBytes) }
            if !relayFlushQueued {
                if queuedBytes > 0 {
                    stream.notifyWhenQueuedBytes(atMost: 0)
                } else {
                    relayFlushQueued = true
                    server.eventStreamFlushQueue.enqueue(self)
                }
            }
        } else {
            relayBacklog.append(contentsOf: chunked ? event.chunk[...] : event.encodedBytes)
        }
        if relayBacklog.count >= relayCheckBytes { checkRelayQueue() }
    }

    /// The server's flush queue reached this connection: its pending events leave now.
    func flushQueuedEvents() {
        relayFlushQueued = false
        flushRelayBacklog()
    }

    /// Writes the pending live events — or, while the relayed subscription still replays (none
    /// are pending then), the next pieces of its replay.
    func flushRelayBacklog() {
        guard !relayBacklog.isEmpty, !isClosed else {
            if relayedSubscription?.hasPendingReplay == true { pumpReplay() }
            return
        }
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
    func beginEventStream(_ configuration: EventStreamConfiguration) {
        relayMaxQueuedBytes = configuration.maxQueuedBytes
        streamingEvents = true
        heartbeatMilliseconds = configuration.heartbeatInterval.wholeMilliseconds
        lastEventWriteMilliseconds = server.loop.nowMilliseconds
        updateTimeout()
    }

    func endEventStream() {
        streamingEvents = false
        heartbeatMilliseconds = 0
        updateTimeout()
    }

    /// Writes one or more encoded events as one chunk, in one socket write. The opening comment
    /// and the heartbeat are framed once, shared by every connection.
    func writeEvents(_ bytes: [UInt8]) {
        guard !isClosed, !bytes.isEmpty else { return }
        lastEventWriteMilliseconds = server.loop.nowMilliseconds
        if chunked, let shared = Self.sharedChunk(of: bytes) {
            stream.write(shared)
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
            if let farewell = relayFarewell, let bytes = try? farewell.encoded() { writeEvents(bytes) }
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
