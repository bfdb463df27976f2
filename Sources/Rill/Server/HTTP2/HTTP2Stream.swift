import HTTPTypes
import Logging
import RillCore
import RillHTTP
import RillHTTP2
import RillPubSub

/// One HTTP/2 stream: a request, its handler task and its response, with the same
/// ``ResponseBodySink`` as an HTTP/1.1 connection — so routes, streamed bodies and event
/// streams run on it unchanged. Its response bytes wait here until the session takes them as
/// the client's flow-control windows allow: backpressure (the writer's marks, the slow-client
/// cap) is per stream, and a stream whose window is exhausted stalls only itself. Its one
/// timer serves the request timeout, heartbeats and the write timeout. Loop-confined.
final class HTTP2Stream: ResponseBodySink, TimerTarget, FlowControlledSink, EventStreamRelayHost, RelayWritable,
    @unchecked Sendable
{
    let connection: HTTP2Connection
    let id: Int32
    /// The request while its body arrives; nil before the head, for a request without a body,
    /// and once the handler has it (an idle event stream carries none of it).
    private var assembly: HTTP2RequestAssembly?
    /// Response bytes not yet taken by the session: the arrays written, kept rather than
    /// copied (an event fanned out to many streams is held once, however many of them lag).
    private var pending = ByteChunkQueue()
    /// Response bytes the session took in all (the write timeout's progress measure).
    private var sentBytes = 0
    private var sentBytesAtLastCheck = 0
    /// The handler's task, then the streamed body's.
    private var task: Task<Void, Never>?
    /// The relayed subscription, while the response relays one (no task then).
    private var relay: EventStreamRelay<HTTP2Stream>?
    /// A relay that ended, kept until the stream closes (it may end inside its own methods).
    private var endedRelay: EventStreamRelay<HTTP2Stream>?
    /// The queued bytes at which the relay wants a drain notice; -1: none wanted.
    private var drainThreshold = -1
    var flowControl = WriteFlowControl()
    /// The stream's place in its loop's timer queue.
    var timerQueueSlot = -1
    /// When the request must be complete (408 then); after an answer sent while the client was
    /// still sending, when the stream stops lingering (``earlyAnswerLingerMilliseconds``).
    private var requestDeadline: UInt64 = 0
    private var heartbeatDeadline: UInt64 = 0
    private var heartbeatIntervalMilliseconds: UInt64 = 0
    private var stallDeadline: UInt64 = 0
    private var eventStreamMaxQueuedBytes = 0
    private var requestComplete = false
    /// The head is being screened (``screenHead(_:)``): the handler waits for the verdict.
    private var screening = false
    /// The client ended its side of the stream (`END_STREAM`): it sends nothing more.
    private var clientEndedStream = false
    private var responseStarted = false
    /// The response body is complete once ``pending`` is sent.
    private var responseEnds = false
    private var responseDone = false
    private(set) var isClosed = false
    private var isCancelled = false
    private var streamingEvents = false
    private var headOnly = false
    /// The request's method while its response head is due (for the request metrics), with
    /// when the request was complete (`RequestMetrics.nowNanoseconds()`).
    private var measuredMethod: HTTPRequest.Method?
    private var requestStartNanoseconds: UInt64 = 0
    /// The request's id, echoed in the response head.
    private var requestID: RequestID?

    /// The request is a `HEAD`: its error responses have no body.
    private var answersHEAD = false

    /// Whether this stream is an open event stream.
    var isStreamingEvents: Bool { streamingEvents && !isClosed }
    /// Whether the response is or was an event stream: one whose relay ended (a slow consumer,
    /// shutdown) may still hold its last events for a client that reads nothing.
    private(set) var carriesEvents = false
    /// The response bytes this stream holds back: its own, and its relay's events not yet
    /// handed over (a relay waits while the stream holds bytes its window keeps back).
    var heldResponseBytes: Int { queuedBytes + (relay?.backlogByteCount ?? 0) }

    /// How long a stream answered before its request ended goes on taking (and dropping) the
    /// client's bytes before `RST_STREAM` `NO_ERROR` stops them: HTTP/1.1's linger after an
    /// error response.
    static let earlyAnswerLingerMilliseconds: UInt64 = 2_000

    init(connection: HTTP2Connection, id: Int32) {
        self.connection = connection
        self.id = id
    }

    var server: HTTPServer { connection.server }

    /// Whether `path` is a request-target HTTP/1.1 would take too: origin-form (`/…`) in
    /// printable ASCII without `#`, or `*` (or empty) for `OPTIONS`. nghttp2 lets bytes above
    /// 0x7F, `#` and `<` through; a route, a log line or a middleware must see the same paths
    /// whichever protocol carried them.
    static func isValidPath(_ path: String, method: String) -> Bool {
        if path.isEmpty || path == "*" { return method == "OPTIONS" }
        guard path.utf8.first == UInt8(ascii: "/") else { return false }
        return path.utf8.allSatisfy(HTTPRequestParser.isRequestTargetByte)
    }

    // MARK: Request

    /// The request head arrived.
    func received(_ h2Head: HTTP2RequestHead, endStream: Bool, heldHeadBytes: Int) {
        clientEndedStream = endStream
        answersHEAD = h2Head.method == "HEAD"
        guard let method = HTTPRequest.Method(h2Head.method), !h2Head.path.isEmpty || h2Head.method == "OPTIONS" else {
            reject(.badRequest, message: "the request needs :method and :path")
            return
        }
        // The limits and checks of an HTTP/1.1 head, so that a route sees the same requests
        // whichever protocol carried them.
        guard h2Head.path.utf8.count <= server.machineConfiguration.configuration.parserLimits.maxTargetBytes else {
            reject(.uriTooLong, message: "the request target is too long")
            return
        }
        guard Self.isValidPath(h2Head.path, method: h2Head.method) else {
            reject(.badRequest, message: "invalid character in :path, or a :path that is not origin-form")
            return
        }
        var fields = HTTPFields()
        fields.reserveCapacity(h2Head.fields.count + 1)
        var host: String?
        var contentLength: Int?
        for field in h2Head.fields {
            guard let name = HTTPField.Name(field.name) else { continue }
            if name == .contentLength { contentLength = Int(field.value) }
            if field.name == "host" {
                // One, a valid host, and the same as `:authority` when both are sent (RFC 9113
                // §8.3.1): `request.host` must not be one while TLS and routing saw the other.
                guard host == nil, HTTPRequestParser.isValidHost(field.value),
                    h2Head.authority.isEmpty || field.value.lowercased() == h2Head.authority.lowercased()
                else {
                    reject(.badRequest, message: "invalid Host, a second Host, or a Host that differs from :authority")
                    return
                }
                host = field.value
            }
            fields.append(HTTPField(name: name, value: field.value))
        }
        if !h2Head.authority.isEmpty {
            guard HTTPRequestParser.isValidHost(h2Head.authority) else {
                reject(.badRequest, message: "invalid :authority")
                return
            }
            if host == nil, let name = HTTPField.Name("Host") { fields.append(HTTPField(name: name, value: h2Head.authority)) }
        }
        // Counted as HTTP/1.1 counts them: `:authority` is its Host.
        guard fields.count <= server.configuration.maxHeaderFieldCount else {
            reject(.requestHeaderFieldsTooLarge, message: "the request has more than \(server.configuration.maxHeaderFieldCount) fields")
            return
        }
        let head = HTTPRequestHead(
            method: method, target: h2Head.path.isEmpty ? "*" : h2Head.path, version: .http2, headerFields: fields,
            bodyFraming: contentLength.map { .contentLength($0) } ?? (endStream ? .none : .chunked), keepAlive: true)
        if endStream { return startHandler(Request(head: head)) }
        let admission = server.bodyAdmission(head)
        let bodyLimit = admission.maxBytes ?? server.configuration.maxRequestBodyBytes
        // Too large a body, declared: the screening answers it through the middleware when the
        // router asks for one (its 413, 404 or 405), else this.
        if let contentLength, contentLength > bodyLimit, !admission.isScreened {
            reject(.contentTooLarge, message: "the request body is larger than allowed")
            return
        }
        assembly = HTTP2RequestAssembly(head: head, bodyLimit: bodyLimit, heldHeadBytes: heldHeadBytes)
        connection.holdRequestHead(heldHeadBytes)
        requestDeadline = server.loop.nowMilliseconds + UInt64(server.configuration.requestTimeout.millisecondsRoundingUp)
        updateTimer()
        if admission.isScreened {
            screenHead(head)
        } else {
            sendContinueIfExpected(head)
        }
    }

    /// A client that waits for `100 Continue` before its body gets it (curl over HTTP/2 waits a
    /// second otherwise, RFC 9110 §10.1.1).
    private func sendContinueIfExpected(_ head: HTTPRequestHead) {
        guard !clientEndedStream, head.headerFields[.expect]?.lowercased() == "100-continue" else { return }
        connection.session.submitInformationalResponse(streamID: id, status: 100)
        connection.scheduleSend()
    }

    /// The router's verdict on a head whose body waits (see ``HTTPConnection``'s screening):
    /// admitted, `100 Continue` follows if the client waits for it, and the request is handled
    /// once its body is complete; refused, the refusal is the answer (the body is never handed
    /// to anyone, and what the client still sends is dropped and then stopped, as after a 413).
    /// Body bytes that arrive during the check are kept, within the stream's flow-control window.
    private func screenHead(_ head: HTTPRequestHead) {
        let request = Request(head: head)
        // A refusal carries the request's id as every response does (the handler's answer
        // sets it again).
        requestID = server.requestIDs.id(for: head.headerFields)
        let context = RequestContext(
            logger: server.logger, remoteAddress: connection.remoteAddress, eventLoop: server.loop, pubSub: server.pubSub,
            requestID: requestID)
        guard case .screen(let verdict) = server.screen(request, context) else {
            sendContinueIfExpected(head)
            return
        }
        screening = true
        task = Task(executorPreference: server.loop.executor) { [self] in
            let outcome = await verdict()
            task = nil
            screening = false
            guard !isClosed, !requestComplete else { return }
            switch outcome {
            case .refused(let refused):
                server.requestMetrics.recordRejected(statusCode: refused.status.code, protocol: .h2, method: head.method)
                answer(with: refused)
            case .admitted(let storage):
                if assembly?.overflowed == true {
                    reject(.contentTooLarge, message: "the request body is larger than allowed")
                    connection.scheduleSend()
                    return
                }
                assembly?.checkedStorage = storage
                sendContinueIfExpected(head)
                if clientEndedStream { finishRequest() }
            }
            connection.scheduleSend()
        }
    }

    /// Body bytes arrived; returns whether they are kept (false: dropped, the request answered
    /// or to be).
    func receivedBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let assembly, !requestComplete, !assembly.overflowed else { return false }
        guard assembly.body.count + bytes.count <= assembly.bodyLimit else {
            if screening {
                // The verdict on the head answers (a head that declared too large a body is
                // refused through the middleware); until then the bytes are dropped.
                assembly.overflowed = true
            } else {
                reject(.contentTooLarge, message: "the request body is larger than allowed")
            }
            return false
        }
        assembly.body.append(contentsOf: bytes)
        assembly.heldBodyBytes += bytes.count
        return true
    }

    /// The request body is complete: the handler runs.
    func requestEnded() {
        clientEndedStream = true
        if responseDone {
            requestDeadline = 0  // its upload ended while the stream lingered
            updateTimer()
        }
        // A head still being screened: the handler waits for its verdict.
        guard !screening else { return }
        finishRequest()
    }

    /// The body is complete and admitted: the handler runs.
    private func finishRequest() {
        guard let assembly, !requestComplete else { return }
        let request = Request(head: assembly.head, body: assembly.body)
        assembly.body = []
        connection.releaseHeldRequest(of: self)
        self.assembly = nil
        startHandler(request, storage: assembly.checkedStorage)
    }

    /// The request is complete: its handler runs, with what a check of its head stored.
    private func startHandler(_ request: Request, storage: RequestContext.Storage? = nil) {
        requestComplete = true
        requestDeadline = 0
        updateTimer()
        measuredMethod = request.head.method
        requestStartNanoseconds = RequestMetrics.nowNanoseconds()
        // The id a screening of the head gave it, if it was screened.
        let requestID = self.requestID ?? server.requestIDs.id(for: request.head.headerFields)
        self.requestID = requestID
        var context = RequestContext(
            logger: server.logger, remoteAddress: connection.remoteAddress, eventLoop: server.loop, pubSub: server.pubSub,
            requestID: requestID)
        if let storage { context.storage = storage }
        let responder: Responder
        switch server.startHandling(request, context: &context) {
        case .answered(let response):
            // Inside the session's receive callbacks a response may be submitted (as `reject`
            // does) but not sent: the connection sends once the received bytes are processed.
            deliver(response, headOnly: request.method == .head)
            return
        case .inTask(let taskResponder):
            responder = taskResponder
        }
        task = Task(executorPreference: server.loop.executor) { [self] in
            await self.respond(to: request, context: context, using: responder)
        }
    }

    /// Bytes of the request's body and head the connection's budgets count, and body bytes not
    /// yet acknowledged to the client (over the budget); 0 once the request is complete.
    var heldBodyBytes: Int {
        get { assembly?.heldBodyBytes ?? 0 }
        set { assembly?.heldBodyBytes = newValue }
    }
    var heldHeadBytes: Int {
        get { assembly?.heldHeadBytes ?? 0 }
        set { assembly?.heldHeadBytes = newValue }
    }
    var unacknowledgedBodyBytes: Int {
        get { assembly?.unacknowledgedBodyBytes ?? 0 }
        set { assembly?.unacknowledgedBodyBytes = newValue }
    }

    /// Answers with an error now, from the loop side (a bad head, a body over the limit, a
    /// request timeout).
    func reject(_ status: HTTPResponse.Status, message: String, headerFields: HTTPFields = [:]) {
        answer(with: HTTPError(status, message: message, headerFields: headerFields).response)
    }

    /// Answers with `response` now, from the loop side, whatever of the request is still to come.
    private func answer(with response: Response) {
        guard !responseStarted, !isClosed else { return }
        requestComplete = true
        requestDeadline = 0
        updateTimer()
        connection.releaseHeldRequest(of: self)
        assembly = nil
        writeHead(of: response, headOnly: answersHEAD)
    }

    // MARK: Handler and response

    private func respond(to request: Request, context: RequestContext, using responder: Responder) async {
        let response: Response
        do {
            // An async handler may return what a synchronous `eventStream(for:)` left pending.
            let answer = try await responder(request, context)
            response = answer.isPending ? try await answer.resolvingPending() : answer
        } catch {
            response = HTTPConnection.response(for: error, of: request, context: context)
        }
        task = nil
        deliver(response, headOnly: request.method == .head)
    }

    /// Writes the head, and the body known in advance; a streamed body gets a task of its own.
    private func deliver(_ response: Response, headOnly: Bool) {
        guard !isClosed else {
            if case .subscription(let relay) = response.body.storage { relay.subscription.cancel() }
            return
        }
        guard let streamed = writeHead(of: response, headOnly: headOnly) else { return }
        // A subscription on this loop is relayed with no task (a few hundred bytes per idle
        // stream instead of a suspended task's slabs); one on another loop is iterated.
        if case .subscription(let source) = streamed.storage, source.subscription.eventLoop === server.loop {
            return relaySubscription(source)
        }
        // An event stream opened while the server shuts down (on a connection whose turn in the
        // drain has not come) ends at once with its farewell, as over HTTP/1.1: its task starts
        // cancelled.
        let cancelled = isCancelled || (server.isShuttingDown && streamed.isEndless)
        task = Task(executorPreference: server.loop.executor) { [self] in
            do {
                try await streamed.write(to: self)
            } catch {
                if !(error is CancellationError || error is ConnectionClosedError) {
                    self.server.logger.error("streaming body failed", metadata: ["error": "\(error)"])
                }
                self.endEventStream()
                if !self.isClosed { self.connection.reset(self, error: .internalError) }
                self.task = nil
                return
            }
            self.task = nil
            self.endResponse()
        }
        if cancelled { task?.cancel() }
    }

    /// Opens the event stream and relays `source`'s subscription.
    private func relaySubscription(_ source: SubscriptionRelay) {
        source.claim.claim()
        let configuration = source.configuration ?? eventStreamDefaults
        guard !isCancelled, !isClosed else {
            source.subscription.cancel()
            return
        }
        do {
            var writer = EventStreamWriter(sink: self, configuration: configuration)
            try writer.open(position: source.subscription.openingPosition)
            for event in source.leading { writeEvents(try event.encoded()) }
            let relay = EventStreamRelay(
                connection: self, subscription: source.subscription, maxQueuedBytes: configuration.maxQueuedBytes, chunked: false,
                ending: try EventStreamEnding.make(farewell: source.farewell, deadline: source.deadline))
            self.relay = relay
            relay.start()
            if server.isShuttingDown { relay.serverIsShuttingDown() }  // as in deliver
        } catch {
            source.subscription.cancel()
            endEventStream()
            connection.reset(self, error: .internalError)
        }
    }

    /// Submits the response head (with a byte body); returns the body still to stream.
    @discardableResult
    private func writeHead(of response: Response, headOnly: Bool) -> ResponseBody? {
        self.headOnly = headOnly
        responseStarted = true
        let status = response.status
        if let method = measuredMethod {
            measuredMethod = nil
            server.requestMetrics.record(
                method: method, statusCode: status.code, protocol: .h2, startNanoseconds: requestStartNanoseconds)
        }
        let bodyAllowed = status.permitsBody
        let bytes = response.body.bytes
        let streams = bytes == nil && bodyAllowed && !headOnly
        var fields: [(name: String, value: String)] = []
        fields.reserveCapacity(response.headerFields.count + 3)
        for field in response.headerFields where field.name != .contentLength {
            fields.append((field.name.canonicalName, field.value))
        }
        fields.append(("date", server.dateValue()))
        if let serverName = server.configuration.serverName { fields.append(("server", serverName)) }
        if let requestID, response.headerFields[RequestID.headerName] == nil { fields.append(("x-request-id", requestID.description)) }
        if bodyAllowed, let byteCount = response.body.byteCount { fields.append(("content-length", String(byteCount))) }
        let hasData = bodyAllowed && !headOnly && (streams || !(bytes?.isEmpty ?? true))
        connection.session.submitResponse(streamID: id, status: status.code, headerFields: fields, hasBody: hasData)
        if !hasData {
            responseDone = true
            if case .subscription(let relay) = response.body.storage { relay.subscription.cancel() }
        } else if let bytes {
            pending.append(bytes)
            responseEnds = true
        }
        connection.scheduleSend()
        return streams ? response.body : nil
    }

    /// The streamed body ended: the stream ends once its bytes are sent.
    private func endResponse() {
        guard !isClosed else { return }
        responseEnds = true
        connection.session.resumeData(of: id)
        connection.scheduleSend()
    }

    /// The session asks for DATA: what is pending, up to `buffer.count` bytes.
    func fill(_ buffer: UnsafeMutableRawBufferPointer) -> HTTP2DataFill {
        guard !pending.isEmpty else { return responseEnds ? .bytes(count: 0, isLast: true) : .deferred }
        // Each array goes once read, so that an idle stream holds none.
        let count = pending.read(into: buffer)
        sentBytes += count
        if queuedBytes <= server.configuration.writeLowWaterMarkBytes { flowControl.drained() }
        if drainThreshold >= 0 && queuedBytes <= drainThreshold {
            drainThreshold = -1
            relay?.transportDrained()
        }
        return .bytes(count: count, isLast: responseEnds && pending.isEmpty)
    }

    /// The last frame of the response was sent.
    func responseSent() {
        responseDone = true
        // The client is still sending a request nobody will read (a 413, a 408). Its bytes are
        // taken and dropped for a while, as HTTP/1.1 lingers after an error response (a client
        // that reads its response only once its upload is done, such as curl 7.88, would fail
        // on an immediate reset); then it is told to stop (`RST_STREAM` `NO_ERROR`, RFC 9113
        // §8.1), so that an endless upload or a stalled one does not hold the stream.
        if !clientEndedStream {
            requestDeadline = server.loop.nowMilliseconds + Self.earlyAnswerLingerMilliseconds
            updateTimer()
        }
    }

    // MARK: ResponseBodySink

    var queuedBytes: Int { pending.byteCount }
    var isShuttingDown: Bool { server.isShuttingDown }
    var eventStreamDefaults: EventStreamConfiguration { server.configuration.eventStream }

    func writeBodyChunk(_ bytes: [UInt8]) async throws {
        guard !isClosed else { throw ConnectionClosedError() }
        guard !bytes.isEmpty else { return }
        append(bytes)
        try await waitUntilWritable()
    }

    func waitUntilWritable() async throws {
        guard queuedBytes > server.configuration.writeHighWaterMarkBytes else { return }
        try await suspendUntilDrained(lowWaterMarkBytes: server.configuration.writeLowWaterMarkBytes)
    }

    var sinkLoop: EventLoop { server.loop }
    /// Nothing to ask: ``fill(_:)`` resumes the writer once the session took enough.
    func requestDrainNotice(atMost lowWaterMarkBytes: Int) {}

    func beginEventStream(_ configuration: EventStreamConfiguration) {
        streamingEvents = true
        carriesEvents = true
        eventStreamMaxQueuedBytes = configuration.maxQueuedBytes
        let interval = UInt64(configuration.heartbeatInterval.millisecondsRoundingUp)
        heartbeatIntervalMilliseconds = interval
        heartbeatDeadline = interval == 0 ? 0 : server.loop.nowMilliseconds + interval
        updateTimer()
    }

    func writeEvents(_ bytes: [UInt8]) {
        guard !isClosed, !bytes.isEmpty else { return }
        noteEventWrite()
        append(bytes)
    }

    func noteEventWrite() {
        if heartbeatIntervalMilliseconds > 0 { heartbeatDeadline = server.loop.nowMilliseconds + heartbeatIntervalMilliseconds }
    }

    // MARK: EventStreamRelayHost

    var relayTransport: HTTP2Stream { self }

    func isRelaying(_ relay: EventStreamRelay<HTTP2Stream>) -> Bool { self.relay === relay }

    /// The connection's send already waits for the loop pass: the events go to the stream now.
    func enqueueForFlush() { relay?.flushFromQueue() }

    func relayEnded(_ ended: EventStreamRelay<HTTP2Stream>, error: SubscriptionError?) {
        guard relay === ended else { return }
        relay = nil
        endedRelay = ended
        guard !isClosed else { return }
        ended.flush()
        endEventStream()
        // Ended by the server (shutdown) or by the broker (a slow consumer, a closed broker):
        // the stream ends after what is pending, and the client reconnects and replays.
        endResponse()
    }

    func write(_ bytes: [UInt8]) {
        guard !isClosed, !bytes.isEmpty else { return }
        append(bytes)
    }

    func write(contentsOf chunks: [[UInt8]]) {
        guard !isClosed else { return }
        for chunk in chunks where !chunk.isEmpty { append(chunk) }
    }

    func notifyWhenQueuedBytes(atMost threshold: Int) {
        drainThreshold = threshold
        guard queuedBytes <= threshold else { return }
        // Already there: the notice follows on the next loop pass, as a transport's does.
        server.loop.schedule(after: .zero) { [weak self] in
            guard let self, self.drainThreshold >= 0, self.queuedBytes <= self.drainThreshold else { return }
            self.drainThreshold = -1
            self.relay?.transportDrained()
        }
    }

    func endEventStream() {
        streamingEvents = false
        heartbeatIntervalMilliseconds = 0
        heartbeatDeadline = 0
        updateTimer()
    }

    /// The connection weighs its streams' bytes at its next send.
    func relayHoldsMore() { connection.scheduleSend() }

    func disconnectSlowClient() {
        guard !isClosed else { return }
        server.noteSlowClientDisconnect()
        cancel()
        connection.reset(self, error: .cancel)
    }

    /// Response bytes for the session to take.
    private func append(_ bytes: [UInt8]) {
        let wasEmpty = queuedBytes == 0
        pending.append(bytes)
        if wasEmpty {
            connection.session.resumeData(of: id)
            if stallDeadline == 0, let timeout = server.configuration.writeTimeout {
                sentBytesAtLastCheck = sentBytes
                stallDeadline = server.loop.nowMilliseconds + UInt64(timeout.millisecondsRoundingUp)
                updateTimer()
            }
        }
        connection.scheduleSend()
    }

    // MARK: Ending

    /// The client reset the stream, or both sides ended it.
    func closed(resetByClient: Bool) {
        isClosed = true
        server.loop.cancelTimer(of: self)
        relay?.subscription.cancel()
        relay = nil
        endedRelay = nil
        if resetByClient || !responseDone { cancel() }
        flowControl.fail(ConnectionClosedError())
        pending = ByteChunkQueue()
    }

    /// The connection closed.
    func connectionClosed() { closed(resetByClient: true) }

    private func cancel() {
        isCancelled = true
        task?.cancel()
    }

    /// Shutdown began: an event stream ends now (with its farewell).
    func serverIsShuttingDown() {
        if let relay {
            relay.serverIsShuttingDown()
        } else if streamingEvents {
            cancel()
        }
    }

    // MARK: Timer

    private func updateTimer() {
        var next = UInt64.max
        for deadline in [requestDeadline, heartbeatDeadline, stallDeadline] where deadline != 0 { next = min(next, deadline) }
        if next == .max {
            server.loop.cancelTimer(of: self)
        } else if !isClosed {
            server.loop.schedule(self, at: next)
        }
    }

    func timerFired() {
        guard !isClosed else { return }
        let now = server.loop.nowMilliseconds
        if requestDeadline != 0 && now >= requestDeadline {
            requestDeadline = 0
            if responseDone {
                connection.reset(self, error: .noError)  // the linger after an early answer
                return
            }
            reject(.requestTimeout, message: "the request was not received in time")
        }
        if stallDeadline != 0 && now >= stallDeadline {
            if queuedBytes == 0 {
                stallDeadline = 0
            } else if sentBytes == sentBytesAtLastCheck {
                // A client that keeps its window shut holds the stream: the write timeout.
                server.noteWriteTimeout()
                stallDeadline = 0
                cancel()
                connection.reset(self, error: .cancel)
                return
            } else if let timeout = server.configuration.writeTimeout {
                sentBytesAtLastCheck = sentBytes
                stallDeadline = now + UInt64(timeout.millisecondsRoundingUp)
            }
        }
        if heartbeatDeadline != 0 && now >= heartbeatDeadline {
            writeEvents(HTTPConnection.heartbeatComment)
            if queuedBytes > eventStreamMaxQueuedBytes {
                disconnectSlowClient()
                return
            }
        }
        updateTimer()
    }
}
