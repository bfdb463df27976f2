import HTTPTypes
import Logging
import RillCore
import RillHTTP
import RillPubSub

/// One client connection: the loop side (socket callbacks feeding the state machine, never
/// awaiting) and the task side (the handler task writing its response). Loop-confined.
///
/// ```
///  socket ─read─► HTTPConnectionStateMachine ─.handle─► Task(executorPreference: loop)
///    ▲                                                       │ responder(request, context)
///    └──────────────── write (try-write, then queued) ◄──────┘ response head + body
/// ```
final class HTTPConnection: TCPStreamDelegate, ResponseBodySink, @unchecked Sendable {
    unowned let server: HTTPServer
    let stream: TCPStream
    var machine: HTTPConnectionStateMachine
    var actions: [HTTPConnectionStateMachine.Action] = []
    var handlerTask: Task<Void, Never>?
    /// The request in progress was cancelled (EOF, shutdown): a body task started later for it
    /// starts cancelled.
    var handlingCancelled = false
    var drainWaiter: UnsafeContinuation<Void, any Error>?
    private(set) var isClosed = false
    let remoteAddress: SocketAddress?

    /// The response in progress must end with the connection (HTTP/1.0 stream, late error).
    var closeAfterResponse = false
    /// The current response uses chunked framing.
    var chunked = false
    /// The current request is HEAD: heads only.
    var headOnly = false

    enum TimeoutKind { case none, idle, request, heartbeat }
    /// Heartbeat interval of the event stream in progress, in ms (0: none).
    var heartbeatMilliseconds: UInt64 = 0
    /// When the event stream last wrote anything, in loop ms.
    var lastEventWriteMilliseconds: UInt64 = 0
    /// The response in progress is an event stream (shutdown cancels it at once).
    var streamingEvents = false
    /// The subscription this connection relays (push mode, no task), if any.
    var relayedSubscription: Subscription?
    var relayFarewell: ServerSentEvent?
    var relayMaxQueuedBytes = 0
    /// Events of the relayed subscription not yet written: they leave together, in one write,
    /// when the server's ``EventStreamFlushQueue`` reaches this connection or, if the socket
    /// has a backlog, when libuv drained it.
    var relayBacklog: [UInt8] = []
    /// The connection waits in the server's flush queue.
    var relayFlushQueued = false
    /// Pending bytes at which a relayed event checks the stream's limits (see
    /// `updateRelayCheckBytes`).
    var relayCheckBytes = 1
    var timeoutKind = TimeoutKind.none
    var deadlineMilliseconds: UInt64 = 0
    var timer: ScheduledTimer?
    /// When the armed timer fires; a later deadline needs no re-arm (checked on fire), an
    /// earlier one does.
    var timerDeadlineMilliseconds: UInt64 = 0

    init(server: HTTPServer, stream: TCPStream) {
        self.server = server
        self.stream = stream
        machine = HTTPConnectionStateMachine(configuration: server.machineConfiguration)
        remoteAddress = stream.remoteAddress
    }

    func start() {
        stream.delegate = self
        stream.startReading()
        updateTimeout()
    }

    var queuedBytes: Int { stream.queuedBytes }

    // MARK: Loop side

    func stream(_ stream: TCPStream, didRead bytes: UnsafeRawBufferPointer) {
        reserveActions()
        machine.receive(bytes, bodyLimit: server.bodyLimit, into: &actions)
        perform()
    }

    func stream(_ stream: TCPStream, didEndReadingWith error: UVError?) {
        reserveActions()
        if error != nil {
            machine.connectionFailed(into: &actions)
        } else {
            machine.inputEnded(into: &actions)
        }
        perform()
    }

    func streamDidDrain(_ stream: TCPStream) {
        flushRelayBacklog()
        if let waiter = drainWaiter {
            drainWaiter = nil
            waiter.resume()
        }
    }

    func streamDidClose(_ stream: TCPStream) {
        isClosed = true
        if stream.writeError?.isTimeout == true { server.noteWriteTimeout() }
        timer?.cancel()
        timer = nil
        handlerTask?.cancel()
        relayedSubscription?.cancel()
        if let waiter = drainWaiter {
            drainWaiter = nil
            waiter.resume(throwing: ConnectionClosedError())
        }
        server.connectionDidClose(self)
    }

    /// Gives the (released while a stream is open) actions array room for what one event
    /// produces at most, so that it is allocated once rather than grown on the second action
    /// (an EOF on a stream cancels it, and the end of the response closes).
    @inline(__always) func reserveActions() {
        if actions.capacity == 0 { actions.reserveCapacity(4) }
    }

    func perform() {
        var index = 0
        while index < actions.count {
            let action = actions[index]
            index += 1
            switch action {
            case .sendContinue:
                stream.write(Self.continueResponse)
            case .handle(let head, let body):
                startHandler(head: head, body: body)
            case .reject(let error):
                writeError(error)
                stream.closeAfterFlush()
            case .pauseReading:
                stream.stopReading()
            case .resumeReading:
                stream.startReading()
            case .cancelHandling:
                handlingCancelled = true
                handlerTask?.cancel()
                relayedSubscription?.cancel()
            case .closeAfterFlush:
                stream.closeAfterFlush()
            case .close:
                stream.close()
            }
        }
        actions.removeAll(keepingCapacity: true)
        updateTimeout()
    }

    /// Graceful shutdown: close now if idle, else after the response in progress.
    func closeWhenIdle() {
        machine.closeWhenIdle(into: &actions)
        perform()
    }

    /// End of the grace period: cancel the handler and close.
    func forceClose() {
        machine.connectionFailed(into: &actions)
        perform()
    }

    // MARK: Timeouts (one timer entry per connection, re-armed only when it fires)

    func updateTimeout() {
        let kind: TimeoutKind
        switch machine.phase {
        case .idle: kind = .idle
        case .receivingRequest: kind = .request
        case .handling: kind = heartbeatMilliseconds > 0 ? .heartbeat : .none
        case .closed: kind = .none
        }
        guard kind != timeoutKind else { return }
        timeoutKind = kind
        switch kind {
        case .none: return
        case .idle: deadlineMilliseconds = server.loop.nowMilliseconds + server.configuration.idleTimeout.wholeMilliseconds
        case .request: deadlineMilliseconds = server.loop.nowMilliseconds + server.configuration.requestTimeout.wholeMilliseconds
        case .heartbeat: deadlineMilliseconds = lastEventWriteMilliseconds + heartbeatMilliseconds
        }
        if timer == nil || deadlineMilliseconds < timerDeadlineMilliseconds { armTimer() }
    }

    /// Sets the connection's timer to `deadlineMilliseconds`: the pending timer moves, or a new
    /// one is scheduled if it fired.
    func armTimer() {
        let now = server.loop.nowMilliseconds
        let delay = Duration.milliseconds(deadlineMilliseconds > now ? deadlineMilliseconds - now : 0)
        timerDeadlineMilliseconds = deadlineMilliseconds
        if let timer, timer.reschedule(after: delay) { return }
        timer = server.loop.schedule(after: delay) { [unowned self] in self.timerFired() }
    }

    func timerFired() {
        timer = nil
        guard !isClosed, timeoutKind != .none else { return }
        if timeoutKind == .heartbeat {
            // Every write moved the deadline without touching the timer; only now compare.
            deadlineMilliseconds = lastEventWriteMilliseconds + heartbeatMilliseconds
            if server.loop.nowMilliseconds >= deadlineMilliseconds {
                writeEvents(Self.heartbeatComment)
                if queuedBytes > eventStreamMaxQueuedBytes {
                    // A heartbeat that cannot leave means a stalled client.
                    disconnectSlowClient()
                    return
                }
                deadlineMilliseconds = lastEventWriteMilliseconds + heartbeatMilliseconds
            }
            armTimer()
            return
        }
        if server.loop.nowMilliseconds < deadlineMilliseconds {
            armTimer()
            return
        }
        switch timeoutKind {
        case .none, .heartbeat:
            return
        case .idle:
            timeoutKind = .none
            machine.closeWhenIdle(into: &actions)
            perform()
        case .request:
            timeoutKind = .none
            writeSimple(status: .requestTimeout, message: "the request was not received in time")
            machine.connectionFailed(into: &actions)
            actions.removeAll()
            stream.closeAfterFlush()
        }
    }

    // MARK: Task side

    func startHandler(head: HTTPRequestHead, body: [UInt8]) {
        handlingCancelled = false
        let request = Request(head: head, body: body)
        let context = RequestContext(
            logger: server.logger, remoteAddress: remoteAddress, eventLoop: server.loop, pubSub: server.pubSub)
        handlerTask = Task(executorPreference: server.loop.executor) { [self] in
            await self.respond(to: request, context: context)
        }
    }

    func respond(to request: Request, context: RequestContext) async {
        let response: Response
        do {
            response = try await server.responder(request, context)
        } catch {
            response = Response(handlerError: error, logger: context.logger, path: request.path)
        }
        guard !isClosed else {
            // The client left while the handler ran: what the response holds (a broker
            // subscription) must not outlive it.
            dropUnwritten(response)
            handlerTask = nil
            return
        }
        // The head and what follows at once (a relayed stream's opening comment and replay)
        // leave in one write.
        stream.beginCoalescingWrites()
        guard let body = writeHead(of: response, for: request.head) else {
            stream.endCoalescingWrites()
            // A client that pipelines without reading must not make us queue response after
            // response: the next request waits until this one drained below the low mark.
            try? await waitUntilWritable()
            handlerTask = nil
            finishResponse()
            return
        }
        guard case .produced(let produced) = body else {
            if case .subscription(let relay) = body { startRelay(relay) }
            handlerTask = nil
            stream.endCoalescingWrites()
            return
        }
        stream.endCoalescingWrites()
        // A streamed body outlives the routing task: it gets a task of its own, so that the
        // routing task ends and frees its frames, the request and the response (several KB per
        // long-lived stream), and the stream's task holds only what the body needs.
        let cancelled = handlingCancelled
        handlerTask = Task(executorPreference: server.loop.executor) { [self] in
            await self.streamBody(produced)
        }
        if cancelled { handlerTask?.cancel() }
    }

    func finishResponse() {
        guard !isClosed else { return }
        machine.responseFinished(
            keepAlive: !closeAfterResponse && !server.isShuttingDown, bodyLimit: server.bodyLimit, into: &actions)
        perform()
    }

    /// The body part that still has to be produced after the head.
    enum StreamedBody {
        /// Written by the body's own task (`ResponseBody.write(to:)`).
        case produced(ResponseBody)
        /// Relayed by the connection, with no task.
        case subscription(SubscriptionRelay)
    }

    /// Writes the head (and a byte body) at once; returns the body still to stream, if any.
    func writeHead(of response: Response, for head: HTTPRequestHead) -> StreamedBody? {
        headOnly = head.method == .head
        closeAfterResponse = !head.keepAlive
        let status = response.status
        let bodyAllowed = status.code >= 200 && status.code != 204 && status.code != 304
        var bytes: [UInt8] = []
        var streamsBody = false
        switch response.body.storage {
        case .empty: break
        case .bytes(let content): bytes = content
        case .stream, .eventStream, .subscription: streamsBody = bodyAllowed && !headOnly
        }
        if streamsBody {
            // HTTP/1.0 has no chunked encoding: the body ends when the connection closes.
            chunked = head.version != .http1_0
            if !chunked { closeAfterResponse = true }
        }
        // Framing is the server's: a handler's Content-Length, Transfer-Encoding or Connection
        // would contradict what is actually sent. A handler asking to close is honoured.
        var fields = response.headerFields
        if fields[.connection] != nil || fields[.contentLength] != nil || fields[.transferEncoding] != nil {
            if fields[.connection]?.lowercased().contains("close") == true { closeAfterResponse = true }
            fields[.connection] = nil
            fields[.contentLength] = nil
            fields[.transferEncoding] = nil
        }
        // One buffer, one allocation: status line, the handler's fields, the server's own lines.
        var buffer: [UInt8] = []
        buffer.reserveCapacity(384 + bytes.count)
        HTTPResponseSerializer.writeStatusLineAndFields(
            HTTPResponse(status: status, headerFields: fields), version: Self.responseVersion(head), into: &buffer)
        buffer.append(contentsOf: server.dateCache.dateLine())
        buffer.append(contentsOf: server.serverLine)
        if streamsBody {
            if chunked { buffer.append(contentsOf: Self.chunkedLine) }
        } else if bodyAllowed && response.body.byteCount != nil {
            Self.appendContentLength(bytes.count, to: &buffer)
        }
        appendConnectionField(for: head, to: &buffer)
        HTTPResponseSerializer.endHead(into: &buffer)
        if bodyAllowed && !headOnly { buffer.append(contentsOf: bytes) }
        // The head leaves at once, before any streamed byte: SSE clients need it to open.
        stream.write(buffer)
        guard streamsBody else {
            // HEAD (or a status without a body) on a relayed subscription: nothing will read it.
            if case .subscription(let relay) = response.body.storage { relay.subscription.cancel() }
            return nil
        }
        switch response.body.storage {
        case .eventStream, .subscription:
            // An endless response: input is read only to notice the client leaving, and
            // nothing is buffered for requests that could never be answered in turn.
            machine.responseIsEndless(into: &actions)
            if actions.contains(.resumeReading) { stream.startReading() }
        case .empty, .bytes, .stream:
            // Nothing more will be read until the body ends: give back the read-side buffers.
            machine.releaseIdleMemory()
        }
        actions = []
        switch response.body.storage {
        case .stream, .eventStream: return .produced(response.body)
        case .subscription(let relay): return .subscription(relay)
        case .empty, .bytes: return nil
        }
    }

    func streamBody(_ body: ResponseBody) async {
        do {
            try await body.write(to: self)
            if chunked && !isClosed { stream.write(HTTPResponseSerializer.lastChunk) }
        } catch {
            endEventStream()
            // The head is out: the only honest signal left is to close without the last chunk.
            if !(error is CancellationError || error is ConnectionClosedError) {
                server.logger.error("streaming body failed", metadata: ["error": "\(error)"])
            }
            closeAfterResponse = true
        }
        handlerTask = nil
        finishResponse()
    }

    private static func responseVersion(_ head: HTTPRequestHead) -> HTTPVersion {
        head.version == .http1_0 ? .http1_0 : .http1_1
    }

    private static func appendContentLength(_ count: Int, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: "content-length: ".utf8)
        buffer.append(contentsOf: String(count).utf8)
        buffer.append(contentsOf: "\r\n".utf8)
    }

    func appendConnectionField(for head: HTTPRequestHead, to buffer: inout [UInt8]) {
        if closeAfterResponse || server.isShuttingDown {
            closeAfterResponse = true
            buffer.append(contentsOf: "connection: close\r\n".utf8)
        } else if head.version == .http1_0 {
            buffer.append(contentsOf: "connection: keep-alive\r\n".utf8)
        }
    }

    /// One body chunk from the handler; suspends above the high-water mark.
    func writeBodyChunk(_ bytes: [UInt8]) async throws {
        guard !isClosed, !stream.isClosing else { throw ConnectionClosedError() }
        guard !bytes.isEmpty else { return }
        if chunked {
            var framed: [UInt8] = []
            framed.reserveCapacity(bytes.count + 12)
            HTTPResponseSerializer.writeChunk(bytes, into: &framed)
            stream.write(framed)
        } else {
            stream.write(bytes)
        }
        try await waitUntilWritable()
    }

    /// Suspends while more than the high-water mark is queued for the client.
    func waitUntilWritable() async throws {
        guard stream.queuedBytes > server.configuration.writeHighWaterMarkBytes else { return }
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                if isClosed {
                    continuation.resume(throwing: ConnectionClosedError())
                    return
                }
                drainWaiter = continuation
                stream.notifyWhenQueuedBytes(atMost: server.configuration.writeLowWaterMarkBytes)
            }
        } onCancel: {
            // Clean-up: must not be lost to a full cross-thread queue.
            server.loop.executeBypassingLimit { [self] in
                if let waiter = self.drainWaiter {
                    self.drainWaiter = nil
                    waiter.resume(throwing: CancellationError())
                }
            }
        }
    }

    func writeError(_ error: HTTPParserError) {
        let message: String
        switch error {
        case .malformedRequestLine(let reason), .malformedHeader(let reason), .malformedChunk(let reason):
            message = reason
        case .headersTooLarge: message = "the request head is larger than \(server.configuration.maxHeaderBytes) bytes"
        case .uriTooLong: message = "the request target is too long"
        case .bodyTooLarge: message = "the request body is larger than allowed"
        case .conflictingFraming: message = "conflicting Content-Length / Transfer-Encoding"
        case .invalidContentLength: message = "invalid Content-Length"
        case .unsupportedTransferEncoding: message = "unsupported transfer coding"
        case .unsupportedVersion: message = "only HTTP/1.0 and HTTP/1.1 are supported"
        case .missingHost: message = "HTTP/1.1 requests need a Host header"
        }
        writeSimple(status: error.status, message: message)
    }

    /// A complete error response with `Connection: close`, written directly from the loop side.
    func writeSimple(status: HTTPResponse.Status, message: String) {
        let response = HTTPError(status, message: message).response
        guard case .bytes(let body) = response.body.storage else { return }
        var extra = server.dateCache.dateLine()
        extra.append(contentsOf: server.serverLine)
        Self.appendContentLength(body.count, to: &extra)
        extra.append(contentsOf: "connection: close\r\n".utf8)
        var buffer: [UInt8] = []
        HTTPResponseSerializer.writeHead(
            HTTPResponse(status: status, headerFields: response.headerFields), extraFieldLines: extra, into: &buffer)
        buffer.append(contentsOf: body)
        stream.write(buffer)
    }

    static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
    static let chunkedLine: [UInt8] = Array("transfer-encoding: chunked\r\n".utf8)
}
