import HTTPTypes
import Logging
import RillCore
import RillHTTP
import RillHTTP2
import Synchronization

/// One HTTP/2 connection, loop side: an ``HTTP2Session`` (nghttp2) on the transport, and its
/// streams — each a request with its own handler task, response and flow control
/// (``HTTP2Stream``). It takes over from the ``HTTPConnection`` that accepted the transport
/// once the connection turns out to speak HTTP/2 (ALPN `h2`, or the cleartext preface); that
/// connection stays the server's registry entry and forwards its transport events here.
/// Loop-confined.
///
/// ```
///  transport ─read─► HTTP2Session ─head/body─► HTTP2Stream ─► handler task ─► response
///     ▲                   │ pulls DATA as windows allow            │ bytes (per stream)
///     └─ write ◄─ send() ◄┘ ◄───────── flush queue ◄───────────────┘
/// ```
///
/// Bounds: streams (`SETTINGS_MAX_CONCURRENT_STREAMS`), header lists (``ServerConfiguration/maxHeaderBytes``;
/// the heads of requests still waiting for their body, together, ``ServerConfiguration/maxQueuedRequestBytes``),
/// request body bytes held for incomplete requests (a route's body limit per stream; for all
/// streams together ``ServerConfiguration/maxRequestBodyBytes`` plus
/// ``ServerConfiguration/maxQueuedRequestBytes`` — beyond, bodies are not acknowledged and the
/// client's windows close), response bytes per stream (the writer's marks, the event stream's
/// slow-client cap), resets and control frames per second (nghttp2's and the session's budgets).
final class HTTP2Connection: HTTP2SessionDelegate {
    /// The connection that handed over; weak: streams (and their tasks) may outlive it by a
    /// moment after the transport closed.
    weak var owner: HTTPConnection?
    /// unowned: the server outlives its connections.
    unowned let server: HTTPServer
    let transport: any Transport
    let remoteAddress: SocketAddress?
    let session: HTTP2Session
    /// The open streams by id.
    private(set) var streams: [Int32: HTTP2Stream] = [:]

    /// How many of the open streams stream events.
    var openEventStreamCount: Int {
        var count = 0
        for stream in streams.values where stream.isStreamingEvents { count += 1 }
        return count
    }
    /// Request body bytes held by streams whose request is not complete yet; they count in
    /// the process's ``ServerConfiguration/maxReceivingRequestBodyBytes`` as HTTP/1.1's do
    /// (``countHeldRequestBody(_:)``).
    private var heldRequestBodyBytes = 0
    /// Header list bytes of requests that wait for their body (counted by ``holdRequestHead(_:)``,
    /// released by ``releaseHeldRequest(of:)``).
    private var heldRequestHeadBytes = 0
    /// Streams whose received body bytes are not acknowledged yet (over the budget), oldest
    /// first.
    private var unacknowledgedStreams: [HTTP2Stream] = []
    /// Waits in the server's flush queue for ``sendPending()``.
    private var isQueuedForSend = false
    /// The transport holds more than the high-water mark: sending waits for its drain notice.
    private var waitsForTransportDrain = false
    /// The last ``sendPending()`` pass stopped at the transport's high-water mark with frames
    /// left in the session.
    private var sendWouldBlock = false
    /// The streams held more than ``HTTP2Configuration/maxQueuedResponseBytes`` after the last
    /// send, event streams cut off included: new streams are refused.
    private var isOverResponseBudget = false
    /// Closes the connection after ``ServerConfiguration/idleTimeout`` without a stream.
    private var idleTimer: ScheduledTimer?
    private(set) var isClosed = false
    /// Graceful shutdown began (`GOAWAY` sent): the connection ends with its last stream.
    private var isDraining = false

    var loop: EventLoop { server.loop }

    init(owner: HTTPConnection) {
        self.owner = owner
        server = owner.server
        transport = owner.transport
        remoteAddress = owner.remoteAddress
        let configuration = owner.server.configuration
        let http2 = configuration.http2
        session = HTTP2Session(
            limits: HTTP2SessionLimits(
                maxConcurrentStreams: http2.maxConcurrentStreams, initialStreamWindowBytes: http2.initialStreamWindowBytes,
                maxHeaderListBytes: configuration.maxHeaderBytes, maxResetStreamBurst: http2.maxResetStreamBurst,
                maxResetStreamsPerSecond: http2.maxResetStreamsPerSecond, maxContinuationFrames: http2.maxContinuationFrames,
                maxPingAndSettingsFramesPerSecond: http2.maxPingAndSettingsFramesPerSecond,
                maxQueuedControlFrames: http2.maxQueuedControlFrames))
        session.delegate = self
        let loop = owner.server.loop
        session.nowMilliseconds = { loop.nowMilliseconds }
    }

    /// Starts with the bytes already read (the preface, and what followed it).
    func start(with bytes: UnsafeRawBufferPointer) {
        armIdleTimer()
        receive(bytes)
    }

    // MARK: Transport events (forwarded by the owner)

    func receive(_ bytes: UnsafeRawBufferPointer) {
        guard !isClosed else { return }
        if !session.receive(bytes), let failure = session.failure {
            server.logger.debug("HTTP/2 session ended", metadata: ["reason": "\(failure)"])
        }
        sendPending()
    }

    func inputEnded() {
        // The client finished sending (TCP's FIN, TLS's close_notify): its streams are over (a
        // half-closed connection can not carry HTTP/2's acknowledgements). Closed at once, but
        // through the transport's orderly close, so that TLS answers with its own close_notify
        // (RFC 8446 §6.1).
        guard !isClosed else { return }
        isClosed = true
        transport.closeAfterFlush(lingering: .zero)
    }

    func transportDrained() {
        waitsForTransportDrain = false
        sendPending()
    }

    /// The transport closed: every stream ends as if reset.
    func transportClosed() {
        isClosed = true
        idleTimer?.cancel()
        idleTimer = nil
        let open = streams.values
        streams.removeAll()
        unacknowledgedStreams.removeAll()
        countHeldRequestBody(-heldRequestBodyBytes)
        for stream in open { stream.connectionClosed() }
    }

    // MARK: Sending

    /// Sends soon: once per loop pass, after the handlers and relays of this pass wrote (the
    /// server's flush queue), so that many streams' bytes leave in one write.
    func scheduleSend() {
        guard !isQueuedForSend, !isClosed, let owner else { return }
        isQueuedForSend = true
        server.eventStreamFlushQueue.enqueue(owner)
    }

    /// The flush queue reached the connection.
    func flushFromQueue() {
        isQueuedForSend = false
        sendPending()
    }

    /// Lets the session write what it has: frames, and response data while the client's
    /// windows and the transport's high-water mark allow. Closes the connection once the
    /// session is finished.
    func sendPending() {
        guard !isClosed, !waitsForTransportDrain else { return }
        let highWater = server.configuration.writeHighWaterMarkBytes
        // A pass stops once the transport holds its high-water mark (gathered for one write);
        // when the kernel then takes those bytes at once, the next pass goes on. A few passes
        // at most, then the other connections' turn (the flush queue's next pass).
        var passes = 0
        repeat {
            sendWouldBlock = false
            transport.beginCoalescingWrites()
            session.send()
            transport.endCoalescingWrites()
            passes += 1
        } while sendWouldBlock && !isClosed && transport.queuedBytes <= highWater && passes < Self.sendPassesPerTurn
        enforceResponseBudget()
        if sendWouldBlock && !isClosed && transport.queuedBytes <= highWater {
            scheduleSend()
        } else if transport.queuedBytes > highWater && session.wantsToWrite {
            waitsForTransportDrain = true
            transport.notifyWhenQueuedBytes(atMost: server.configuration.writeLowWaterMarkBytes)
        }
        if session.isFinished || (isDraining && streams.isEmpty && !session.wantsToWrite) || (session.failure != nil && !session.wantsToWrite) {
            isClosed = true
            transport.closeAfterFlush()
        }
    }

    /// What the streams still hold once the session took what the windows and the transport
    /// allowed, against ``HTTP2Configuration/maxQueuedResponseBytes``: past it the event streams
    /// holding the most (open ones, and ended ones still holding their last events) are cut off
    /// as slow clients until the rest fits. A burst the client takes as it comes never counts:
    /// only what is left after a send. O(streams), at most `maxConcurrentStreams`.
    private func enforceResponseBudget() {
        let budget = server.configuration.http2.maxQueuedResponseBytes
        var held = 0
        for stream in streams.values { held += stream.heldResponseBytes }
        if held > budget {
            let holders = streams.values.filter { $0.carriesEvents && !$0.isClosed && $0.heldResponseBytes > 0 }
                .sorted { $0.heldResponseBytes > $1.heldResponseBytes }
            for stream in holders where held > budget {
                held -= stream.heldResponseBytes
                stream.disconnectSlowClient()
            }
        }
        isOverResponseBudget = held > budget
    }

    /// Writes frames the session produced, while the transport holds at most its high-water
    /// mark: past it the session keeps them and produces no more until the transport drained
    /// (``sendPending()``), so that a client that opens its windows wide and stops reading
    /// leaves the response bytes with their streams (whose writers wait and whose event
    /// streams meet their slow-client limit) instead of in the transport's unbounded queue.
    func session(_ session: HTTP2Session, write bytes: UnsafeRawBufferPointer) -> Bool {
        guard transport.queuedBytes <= server.configuration.writeHighWaterMarkBytes else {
            sendWouldBlock = true
            return false
        }
        transport.write(bytes)
        return true
    }

    /// How many high-water marks' worth one connection sends per turn of the flush queue.
    static var sendPassesPerTurn: Int { 16 }

    // MARK: Requests

    func session(_ session: HTTP2Session, didReceive head: HTTP2RequestHead, on streamID: Int32, endStream: Bool) {
        // A request that waits for its body holds its head: those heads together stay within
        // maxQueuedRequestBytes, as HTTP/1.1's pipelined requests do; and while the streams
        // hold more response bytes than their budget, no new one starts (a refused stream may
        // be retried by the client).
        let heldHeadBytes = endStream ? 0 : head.byteCount
        guard !isDraining, !isOverResponseBudget, heldRequestHeadBytes + heldHeadBytes <= server.configuration.maxQueuedRequestBytes else {
            session.resetStream(streamID, error: .refusedStream)
            return
        }
        let stream = HTTP2Stream(connection: self, id: streamID)
        streams[streamID] = stream
        idleTimer?.cancel()
        idleTimer = nil
        stream.received(head, endStream: endStream, heldHeadBytes: heldHeadBytes)
    }

    func session(_ session: HTTP2Session, headersTooLargeOn streamID: Int32) {
        let stream = HTTP2Stream(connection: self, id: streamID)
        streams[streamID] = stream
        stream.reject(.requestHeaderFieldsTooLarge, message: "the request head is larger than \(server.configuration.maxHeaderBytes) bytes")
    }

    func session(_ session: HTTP2Session, didReceiveBody bytes: UnsafeRawBufferPointer, on streamID: Int32) {
        guard let stream = streams[streamID] else {
            // A stream that already answered (a 413, a reset): its bytes still count for the
            // connection's window.
            session.consume(bytes.count, on: streamID)
            return
        }
        let kept = stream.receivedBody(bytes)
        if !kept {
            session.consume(bytes.count, on: streamID)
            return
        }
        if countHeldRequestBody(bytes.count) > server.configuration.maxReceivingRequestBodyBytes {
            // The process holds as many arriving bodies as it allows: this one is refused (its
            // bytes leave the counts at once), as an HTTP/1.1 upload would be.
            stream.reject(
                .serviceUnavailable, message: "the server receives as many request bodies as it can hold; retry later",
                headerFields: [.retryAfter: "2"])
            session.consume(bytes.count, on: streamID)
            server.requestMetrics.recordRejected(statusCode: 503, protocol: .h2)
            return
        }
        if heldRequestBodyBytes <= requestBodyBudget && stream.unacknowledgedBodyBytes == 0 {
            session.consume(bytes.count, on: streamID)
        } else {
            if stream.unacknowledgedBodyBytes == 0 { unacknowledgedStreams.append(stream) }
            stream.unacknowledgedBodyBytes += bytes.count
        }
    }

    func session(_ session: HTTP2Session, didEndRequestOn streamID: Int32) {
        streams[streamID]?.requestEnded()
    }

    func session(_ session: HTTP2Session, didSendEndOfResponseOn streamID: Int32) {
        streams[streamID]?.responseSent()
    }

    func session(_ session: HTTP2Session, didCloseStream streamID: Int32, error: HTTP2ErrorCode) {
        guard let stream = streams.removeValue(forKey: streamID) else { return }
        releaseHeldRequest(of: stream)
        stream.closed(resetByClient: error != .noError)
        if streams.isEmpty {
            if isDraining {
                scheduleSend()
            } else {
                armIdleTimer()
            }
        }
    }

    func session(_ session: HTTP2Session, fillDataFor streamID: Int32, into buffer: UnsafeMutableRawBufferPointer) -> HTTP2DataFill {
        guard let stream = streams[streamID] else { return .bytes(count: 0, isLast: true) }
        return stream.fill(buffer)
    }

    // MARK: Request body budget

    /// Request body bytes all incomplete requests of the connection may hold before further
    /// bytes wait unacknowledged (the client's windows close).
    private var requestBodyBudget: Int {
        server.configuration.maxRequestBodyBytes + server.configuration.maxQueuedRequestBytes
    }

    /// Adds `delta` to the connection's held request-body bytes and to the process's count of
    /// bodies arriving; returns the process's new total.
    @discardableResult
    private func countHeldRequestBody(_ delta: Int) -> Int {
        guard delta != 0 else { return server.counters.receivingRequestBodyBytes.load(ordering: .relaxed) }
        heldRequestBodyBytes += delta
        return server.counters.receivingRequestBodyBytes.add(delta, ordering: .relaxed).newValue
    }

    /// A request waits for its body: its head counts in the budget until it is complete.
    func holdRequestHead(_ byteCount: Int) { heldRequestHeadBytes += byteCount }

    /// `stream`'s request is complete (its body goes to the handler) or gone: its head and body
    /// bytes leave the budgets, and bytes other streams hold unacknowledged are acknowledged as it allows.
    func releaseHeldRequest(of stream: HTTP2Stream) {
        countHeldRequestBody(-stream.heldBodyBytes)
        stream.heldBodyBytes = 0
        heldRequestHeadBytes -= stream.heldHeadBytes
        stream.heldHeadBytes = 0
        if stream.unacknowledgedBodyBytes > 0 {
            // Taken by the handler or dropped: either way consumed, or the connection's window
            // would stay that much smaller for good.
            session.consume(stream.unacknowledgedBodyBytes, on: stream.id)
            stream.unacknowledgedBodyBytes = 0
            unacknowledgedStreams.removeAll { $0 === stream }
        }
        while let first = unacknowledgedStreams.first, heldRequestBodyBytes <= requestBodyBudget {
            unacknowledgedStreams.removeFirst()
            session.consume(first.unacknowledgedBodyBytes, on: first.id)
            first.unacknowledgedBodyBytes = 0
        }
        scheduleSend()
    }

    // MARK: Lifetime

    private func armIdleTimer() {
        guard idleTimer == nil, !isClosed else { return }
        idleTimer = loop.schedule(after: server.configuration.idleTimeout) { [weak self] in
            guard let self, self.streams.isEmpty else { return }
            self.idleTimer = nil
            self.beginDraining()
        }
    }

    /// Sends `GOAWAY`; the open streams finish, then the connection closes.
    func beginDraining() {
        guard !isDraining, !isClosed else { return }
        isDraining = true
        session.goAway()
        sendPending()
    }

    /// Shutdown began and this connection's event streams will end later (a drain): the
    /// client is told at once to open no new stream here (``beginDraining()`` follows).
    func noticeShutdown() {
        guard !isDraining, !isClosed else { return }
        session.noticeShutdown()
        sendPending()
    }

    /// Whether any stream serves an event stream.
    var hasEventStreams: Bool { streams.values.contains { $0.isStreamingEvents } }

    /// Graceful shutdown: `GOAWAY`, event streams end now with their farewell, other responses
    /// get the grace period.
    func serverIsShuttingDown() {
        for stream in streams.values { stream.serverIsShuttingDown() }
        beginDraining()
    }

    /// Closes now (end of the grace period, the client left): every stream ends.
    func closeNow() {
        guard !isClosed else { return }
        isClosed = true
        transport.close()
    }

    /// A stream's slow-client disconnect: that stream is reset, the others go on.
    func reset(_ stream: HTTP2Stream, error: HTTP2ErrorCode) {
        session.resetStream(stream.id, error: error)
        // Over for the server now, not once the `RST_STREAM` leaves (behind a full transport
        // it waits): the stream takes no more bytes, its handler and subscription end.
        stream.closed(resetByClient: false)
        scheduleSend()
    }
}
