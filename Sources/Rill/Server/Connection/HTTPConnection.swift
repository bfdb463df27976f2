import HTTPTypes
import Logging
import RillCore
import RillHTTP
import RillPubSub
import Synchronization

/// One client connection, loop side: bytes from the transport go into the HTTP state machine,
/// whose actions it performs; it owns the connection's timeouts and its lifetime. Never awaits.
/// The task side — running the handler and writing its response — is the request cycle
/// (`HTTPConnection+RequestCycle.swift`); a relayed event stream is an ``EventStreamRelay``.
/// Loop-confined.
///
/// ```
///  transport ─read─► HTTPConnectionStateMachine ─.handle─► request cycle (handler task)
///     ▲                                                       │ head + body (sink)
///     └──── write / drain notice ◄── flow control, relay ◄────┘
/// ```
final class HTTPConnection: TransportDelegate, TimerTarget, FlowControlledSink, EventStreamRelayHost, RelayWritable,
    @unchecked Sendable
{
    // Stored properties in this order (a class's layout follows it): words first, the small
    // ones packed at the end — every open connection carries one of these.
    // `@exclusivity(unchecked)`: the properties every request mutates in place. A connection is
    // confined to its loop's thread and none of its methods re-enters while it mutates them, so
    // the runtime's dynamic exclusivity check (a thread-local access set, entered and left per
    // access) found nothing and cost ~7 % of the user CPU of a plain request (perf, issue 14).
    unowned let server: HTTPServer
    let transport: any Transport
    @exclusivity(unchecked) private var machine: HTTPConnectionStateMachine
    /// What the state machine asked for, performed by ``perform()``; kept between events so
    /// that its storage is reused.
    @exclusivity(unchecked) private var actions: [HTTPConnectionStateMachine.Action] = []
    /// The relayed subscription, while an event stream relays one.
    private(set) var relay: EventStreamRelay<HTTPConnection>?
    /// A relay that ended, kept until the next request or the close: it may have ended inside
    /// one of its own methods (a slow-client disconnect while relaying an event), which must
    /// not free it under its own feet.
    private var endedRelay: EventStreamRelay<HTTPConnection>?
    /// Backpressure for a streamed body's writer.
    var flowControl = WriteFlowControl()
    /// The connection's place in the server's list of open ones; -1 once it left it.
    @exclusivity(unchecked) var registryIndex = -1
    /// The connection's place in its loop's timer queue (it is the one timer that serves its
    /// timeouts, a ``TimerTarget``); -1 while not scheduled.
    @exclusivity(unchecked) var timerQueueSlot = -1
    /// The timeouts.
    @exclusivity(unchecked) private var timeouts = ConnectionTimeouts()
    /// The response in progress (task side).
    @exclusivity(unchecked) var cycle = RequestCycle()
    let remoteAddress: SocketAddress?
    /// The HTTP/2 connection this one handed over to (ALPN `h2`, or the cleartext preface);
    /// from then on transport events go there.
    private(set) var http2: HTTP2Connection?
    /// Whether the connection speaks HTTP/2.
    var isHTTP2: Bool { http2 != nil }

    /// Shutdown began and the connection's streams drain later: an HTTP/2 client is told at
    /// once to open no new stream on it (nothing to say over HTTP/1.1).
    func noticeShutdown() { http2?.noticeShutdown() }

    /// The event streams open on this connection: its HTTP/2 streams that stream events, or
    /// its HTTP/1.1 response if that is one.
    var openEventStreamCount: Int {
        if let http2 { return http2.openEventStreamCount }
        return cycle.streamingEvents ? 1 : 0
    }
    private(set) var isClosed = false
    /// Until the first bytes decided between HTTP/1.1 and HTTP/2: how many bytes of the HTTP/2
    /// preface arrived so far (a first segment may be shorter than what decides: `P`, `PR`,
    /// `PRI`); -1 once decided.
    private var prefaceBytesSeen: Int8 = 0
    /// What this connection adds to the process's count of request-body bytes still arriving
    /// (``ServerConfiguration/maxReceivingRequestBodyBytes``).
    private var countedBodyBytes: Int32 = 0

    init(server: HTTPServer, transport: any Transport) {
        self.server = server
        self.transport = transport
        machine = HTTPConnectionStateMachine(sharing: server.machineConfiguration)
        remoteAddress = transport.remoteAddress
    }

    func start() {
        transport.delegate = self
        transport.startReading()
        updateTimeout()
    }

    var queuedBytes: Int { transport.queuedBytes }
    var sinkLoop: EventLoop { server.loop }
    func requestDrainNotice(atMost lowWaterMarkBytes: Int) { transport.notifyWhenQueuedBytes(atMost: lowWaterMarkBytes) }

    // MARK: Transport events

    func transport(_ transport: any Transport, didRead bytes: UnsafeRawBufferPointer) {
        if let http2 { return http2.receive(bytes) }
        if prefaceBytesSeen >= 0 { return receiveFirstBytes(bytes) }
        receiveHTTP1(bytes)
    }

    /// Bytes for the HTTP/1.1 state machine.
    private func receiveHTTP1(_ bytes: UnsafeRawBufferPointer) {
        guard !isClosed else { return }
        reserveActions()
        if machine.wantsInputBuffer, var spare = server.takeSpareInputBuffer() { machine.lendInputBuffer(&spare) }
        if !machine.hasSpareHeaderFields, let spare = server.takeSpareHeaderFields() { machine.recycleHeaderFields(spare) }
        machine.receive(bytes, admission: server.bodyAdmission, into: &actions)
        guard countReceivingBody() else { return }
        perform()
    }

    /// Brings the process's count of request-body bytes still arriving up to date with this
    /// connection's. False when its growth took the count past
    /// ``ServerConfiguration/maxReceivingRequestBodyBytes``: the connection then answered 503
    /// and closes, and the actions of this read are dropped. While a response is in progress
    /// nothing is refused: what arrives behind it stays within `maxQueuedRequestBytes`.
    private func countReceivingBody() -> Bool {
        let receiving = Int32(clamping: machine.receivingBodyByteCount)
        guard receiving != countedBodyBytes else { return true }
        let grew = receiving > countedBodyBytes
        let total = server.counters.receivingRequestBodyBytes.add(Int(receiving) - Int(countedBodyBytes), ordering: .relaxed).newValue
        countedBodyBytes = receiving
        guard grew, total > server.configuration.maxReceivingRequestBodyBytes, !machine.isHandling else { return true }
        releaseCountedBody()  // refused: its bytes leave the count now, not when the linger ends
        actions.removeAll(keepingCapacity: true)
        writeSimple(
            status: .serviceUnavailable, message: "the server receives as many request bodies as it can hold; retry later",
            headerFields: [.retryAfter: "2"])
        server.requestMetrics.recordRejected(statusCode: 503, protocol: .http1)
        transport.closeAfterFlush()
        isClosed = true  // nothing more is read or written here (no handler runs)
        // The partial body and the input buffers go now, not when the linger ends.
        machine.connectionFailed(into: &actions)
        actions.removeAll(keepingCapacity: true)
        return false
    }

    /// Takes this connection's bytes out of the process's count of request bodies arriving.
    private func releaseCountedBody() {
        guard countedBodyBytes != 0 else { return }
        server.counters.receivingRequestBodyBytes.subtract(Int(countedBodyBytes), ordering: .relaxed)
        countedBodyBytes = 0
    }

    func transport(_ transport: any Transport, didEndReadingWith error: UVError?) {
        if let http2 { return http2.inputEnded() }
        reserveActions()
        if error != nil {
            machine.connectionFailed(into: &actions)
        } else {
            machine.inputEnded(into: &actions)
        }
        perform()
    }

    func transportDidDrain(_ transport: any Transport) {
        if let http2 { return http2.transportDrained() }
        relay?.transportDrained()
        flowControl.drained()
    }

    func transportDidClose(_ transport: any Transport) {
        isClosed = true
        releaseCountedBody()
        _ = takeScreenedRequest()  // admitted, but the body never completed
        if transport.writeError?.isTimeout == true { server.noteWriteTimeout() }
        server.loop.cancelTimer(of: self)
        cycle.handlerTask?.cancel()
        relay?.subscription.cancel()
        relay = nil
        endedRelay = nil
        returnReadBuffers()
        flowControl.fail(ConnectionClosedError())
        http2?.transportClosed()
        server.connectionDidClose(self)
    }

    // MARK: State machine actions

    /// Gives the (released while a stream is open) actions array room for what one event
    /// produces at most, so that it is not grown on the second action (an EOF on a stream
    /// cancels it, and the end of the response closes): a spare of the server's.
    @inline(__always) func reserveActions() {
        if actions.capacity == 0 { actions = server.takeSpareActions() }
    }

    /// The response to `head` was written whole: its header fields' storage may serve the next
    /// request's (the parser reuses it only if nothing else holds it by then).
    func recycleHeaderFields(of head: HTTPRequestHead) {
        machine.recycleHeaderFields(head.headerFields)
    }

    /// Gives the read side's buffers back to the server's spares (the parser's only when all
    /// of it was read).
    private func returnReadBuffers() {
        returnInputBuffer()
        server.returnSpareActions(&actions)
    }

    /// Gives the parser's receive buffer back to the server's spares when all of it was read.
    private func returnInputBuffer() {
        if let buffer = machine.takeConsumedInputBuffer() { server.returnSpareInputBuffer(buffer) }
    }

    func perform() {
        // A synchronous handler answers inside `startHandler`; its response is written once the
        // actions of this pass are done (writing it can change `actions`), and what the machine
        // does next (the next pipelined request, a close) is one more pass.
        var inline: InlineResponse?
        repeat {
            performActions(inline: &inline)
            guard let answered = inline else { break }
            inline = nil
            guard finishInlineResponse(answered) else { break }
        } while true
        // Recycled fields go back to the loop's spares, so an idle connection holds neither them
        // nor the strings of its last request. They are not emptied here: the next head that
        // takes them overwrites them with its own fields (cheaper than emptying HTTPFields).
        if let fields = machine.takeSpareHeaderFields() {
            server.returnSpareHeaderFields(fields)
        }
        updateTimeout()
    }

    private func performActions(inline: inout InlineResponse?) {
        var index = 0
        while index < actions.count {
            let action = actions[index]
            index += 1
            switch action {
            case .sendContinue:
                transport.write(Self.continueResponse)
            case .screenHead(let head):
                screenHead(head)
            case .handle(let head, let body):
                endedRelay = nil
                inline = startHandler(head: head, body: body)
            case .reject(let error):
                writeError(error)
                transport.closeAfterFlush()
            case .pauseReading:
                transport.stopReading()
            case .resumeReading:
                transport.startReading()
            case .cancelHandling:
                cancelHandling()
            case .closeAfterFlush:
                transport.closeAfterFlush()
            case .close:
                transport.close()
            }
        }
        actions.removeAll(keepingCapacity: true)
    }

    /// The response in progress ends (the client left, or is being disconnected).
    private func cancelHandling() {
        cycle.isCancelled = true
        cycle.handlerTask?.cancel()
        relay?.subscription.cancel()
    }

    /// The response is done: the machine reads the next request (or closes).
    func responseFinished() {
        if responseDone() { perform() }
    }

    /// Tells the machine the response is done; returns whether it queued actions (false once
    /// the connection closed).
    func responseDone() -> Bool {
        guard !isClosed else { return false }
        machine.responseFinished(
            keepAlive: !cycle.closeAfterResponse && !server.isShuttingDown, admission: server.bodyAdmission, into: &actions)
        return true
    }

    /// The head of an endless response (an event stream) went out: input is read only to
    /// notice the client leaving, and nothing is buffered for requests that could never be
    /// answered in turn.
    func responseIsEndless() {
        returnInputBuffer()
        machine.responseIsEndless(into: &actions)
        if actions.contains(.resumeReading) { transport.startReading() }
        server.returnSpareActions(&actions)
    }

    /// Nothing more will be read until the body ends: the read-side buffers go back.
    func releaseReadBuffers() {
        returnReadBuffers()
        machine.releaseIdleMemory()
    }

    /// Graceful shutdown: close now if idle, else after the response in progress.
    func closeWhenIdle() {
        machine.closeWhenIdle(into: &actions)
        perform()
    }

    /// End of the grace period (or a slow client): cancel the handler and close now.
    func forceClose() {
        if let http2 { return http2.closeNow() }
        machine.connectionFailed(into: &actions)
        perform()
    }

    /// The slow-client policy's disconnect: close now, dropping what is queued here and in the
    /// kernel (a reset: the client stopped reading, and its send buffer would otherwise stay
    /// allocated, still delivering stale events, after the close).
    func disconnectSlowClient() {
        server.noteSlowClientDisconnect()
        if http2 == nil { transport.abort() }
        forceClose()
    }

    // MARK: Relayed event streams

    /// Starts relaying `relay`'s subscription (the head and the opening are written).
    func startRelay(_ relay: EventStreamRelay<HTTPConnection>) {
        self.relay = relay
        relay.start()
    }

    /// Whether `relay` is the connection's current one.
    func isRelaying(_ relay: EventStreamRelay<HTTPConnection>) -> Bool { self.relay === relay }

    /// The relay waits in the server's flush queue.
    func enqueueForFlush() { server.eventStreamFlushQueue.enqueue(self) }

    /// The relay writes to the transport, through the connection.
    var relayTransport: HTTPConnection { self }

    func write(_ bytes: [UInt8]) { transport.write(bytes) }
    func write(contentsOf chunks: [[UInt8]]) { transport.write(contentsOf: chunks) }

    func notifyWhenQueuedBytes(atMost threshold: Int) { transport.notifyWhenQueuedBytes(atMost: threshold) }

    /// The server's flush queue reached this connection: its pending events leave now.
    func flushQueuedEvents() {
        if let http2 { return http2.flushFromQueue() }
        relay?.flushFromQueue()
    }

    // MARK: HTTP/2

    /// The connection's first bytes decide whether it speaks HTTP/2: TLS negotiated `h2`, or a
    /// cleartext connection opens with the HTTP/2 preface (prior knowledge; its first 4 bytes
    /// decide, as no HTTP/1.1 request starts with `PRI `) and the server accepts that. Fewer
    /// bytes that begin the preface are held (as a count: they are the preface's) until more
    /// come, since TCP may split anywhere.
    private func receiveFirstBytes(_ bytes: UnsafeRawBufferPointer) {
        let configuration = server.configuration.http2
        let seen = Int(prefaceBytesSeen)
        if let negotiated = transport.applicationProtocol {
            prefaceBytesSeen = -1
            return negotiated == "h2" && configuration.isEnabledOverTLS ? startHTTP2(with: bytes) : receiveHTTP1(bytes)
        }
        let preface = Self.http2Preface
        let compared = min(bytes.count, preface.count - seen)
        let continuesPreface =
            configuration.acceptsPriorKnowledge && preface.withUnsafeBytes { $0[seen..<(seen + compared)].elementsEqual(bytes.prefix(compared)) }
        if continuesPreface && seen + bytes.count < 4 {
            prefaceBytesSeen = Int8(seen + bytes.count)
            return
        }
        prefaceBytesSeen = -1
        if continuesPreface {
            guard seen > 0 else { return startHTTP2(with: bytes) }
            let joined = preface[..<seen] + Array(bytes)
            return joined.withUnsafeBytes { startHTTP2(with: $0) }
        }
        if seen > 0 { preface.withUnsafeBytes { receiveHTTP1(UnsafeRawBufferPointer(rebasing: $0[..<seen])) } }
        if !isClosed { receiveHTTP1(bytes) }
    }

    /// Hands the transport over to an ``HTTP2Connection``, which takes `bytes` (the preface and
    /// what followed) first.
    private func startHTTP2(with bytes: UnsafeRawBufferPointer) {
        server.loop.cancelTimer(of: self)
        let connection = HTTP2Connection(owner: self)
        http2 = connection
        returnReadBuffers()
        machine.releaseIdleMemory()
        connection.start(with: bytes)
    }

    /// The client connection preface of HTTP/2 (RFC 9113 §3.4).
    static let http2Preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// The relayed subscription ended: pending events leave, then the response ends — with
    /// its last chunk when the stream ended normally, by closing when it failed (a slow
    /// consumer, a closed broker: the client reconnects and replays).
    func relayEnded(_ ended: EventStreamRelay<HTTPConnection>, error: SubscriptionError?) {
        guard relay === ended else { return }
        relay = nil
        endedRelay = ended
        guard !isClosed else { return }
        ended.flush()  // what is pending leaves first
        endEventStream()
        if error == nil {
            // No last chunk for a client that went away (EOF or reset cancelled the stream).
            if cycle.chunked && !cycle.isCancelled { transport.write(HTTPResponseSerializer.lastChunk) }
        } else {
            cycle.closeAfterResponse = true
        }
        responseFinished()
    }

    // MARK: Timeouts (one timer per connection, re-armed only when it fires)

    func updateTimeout() {
        if let deadline = timeouts.enter(machine.phase, now: server.loop.nowMilliseconds, limits: server.timeoutLimits) {
            arm(at: deadline)
        }
    }

    /// Sets the connection's timer to `deadline` (scheduled, or moved if it is pending).
    private func arm(at deadline: UInt64) {
        timeouts.armed(at: deadline)
        server.loop.schedule(self, at: deadline)
    }

    func timerFired() {
        guard !isClosed, http2 == nil else { return }
        let now = server.loop.nowMilliseconds
        switch timeouts.timerFired(now: now) {
        case .none:
            return
        case .rearm(let deadline):
            arm(at: deadline)
        case .heartbeatDue:
            writeEvents(Self.heartbeatComment)
            if queuedBytes > cycle.eventStreamMaxQueuedBytes {
                // A heartbeat that cannot leave means a stalled client.
                disconnectSlowClient()
                return
            }
            arm(at: timeouts.heartbeatWritten(now: now))
        case .idle:
            closeWhenIdle()
        case .request:
            writeSimple(status: .requestTimeout, message: "the request was not received in time")
            machine.connectionFailed(into: &actions)
            actions.removeAll()
            transport.closeAfterFlush()
        }
    }

    /// An event stream starts: heartbeats every `interval` of quiet.
    func startHeartbeats(every interval: Duration) {
        timeouts.startHeartbeats(every: interval, now: server.loop.nowMilliseconds)
        updateTimeout()
    }

    /// The event stream ended: no more heartbeats.
    func stopHeartbeats() {
        timeouts.stopHeartbeats()
        updateTimeout()
    }

    /// The event stream wrote: its heartbeat is due one interval from now.
    @inline(__always) func noteEventWrite() {
        timeouts.noteEventWrite(now: server.loop.nowMilliseconds)
    }

    // MARK: Screening a head before its body

    /// The machine holds a head's body until the router's verdict (``Router/screen(_:context:)``):
    /// admitted, the body is read (after `100 Continue` if the client waits for it); refused,
    /// the refusal is written with `Connection: close` and the body is never read. The check
    /// runs in a task on the loop (the connection's handler task: none runs meanwhile),
    /// cancelled if the connection closes first; the request timeout goes on running.
    private func screenHead(_ head: HTTPRequestHead) {
        let request = Request(head: head, body: [])
        let context = RequestContext(
            logger: server.logger, remoteAddress: remoteAddress, eventLoop: server.loop, pubSub: server.pubSub,
            requestID: server.requestIDs.id(for: head.headerFields))
        guard case .screen(let verdict) = server.screen(request, context) else {
            machine.headScreened(admitted: true, admission: server.bodyAdmission, into: &actions)
            return
        }
        cycle.handlerTask = Task(executorPreference: server.loop.executor) { [self] in
            let outcome = await verdict()
            cycle.handlerTask = nil
            guard !isClosed else { return }
            reserveActions()
            switch outcome {
            case .refused(var refused):
                // The request's id, as every response carries it (the client's, or the server's).
                if let id = context.requestID, refused.headerFields[RequestID.headerName] == nil {
                    refused.headerFields[RequestID.headerName] = id.description
                }
                writeClosing(refused, withoutBody: request.method == .head)
                server.requestMetrics.recordRejected(statusCode: refused.status.code, protocol: .http1, method: request.method)
                machine.headScreened(admitted: false, admission: server.bodyAdmission, into: &actions)
            case .admitted(let storage):
                // The handler runs under the id the check saw, with what it stored.
                server.screenedRequests[ObjectIdentifier(self)] = HTTPServer.ScreenedRequest(id: context.requestID, storage: storage)
                machine.headScreened(admitted: true, admission: server.bodyAdmission, into: &actions)
            }
            perform()
        }
    }

    /// What the check of this connection's screened request left for its handler, taken (nil
    /// when none was screened).
    func takeScreenedRequest() -> HTTPServer.ScreenedRequest? {
        guard !server.screenedRequests.isEmpty else { return nil }
        return server.screenedRequests.removeValue(forKey: ObjectIdentifier(self))
    }

    // MARK: Errors written from the loop side

    private func writeError(_ error: HTTPParserError) {
        let message: String
        switch error {
        case .malformedRequestLine(let reason), .malformedHeader(let reason), .malformedChunk(let reason):
            message = reason
        case .headersTooLarge:
            message =
                "the request head is larger than \(server.configuration.maxHeaderBytes) bytes "
                + "or has more than \(server.configuration.maxHeaderFieldCount) fields"
        case .uriTooLong: message = "the request target is too long"
        case .bodyTooLarge: message = "the request body is larger than allowed"
        case .conflictingFraming: message = "conflicting Content-Length / Transfer-Encoding"
        case .invalidContentLength: message = "invalid Content-Length"
        case .unsupportedTransferEncoding: message = "unsupported transfer coding"
        case .unsupportedVersion: message = "only HTTP/1.0 and HTTP/1.1 are supported"
        case .missingHost: message = "HTTP/1.1 requests need a Host header"
        }
        writeSimple(status: error.status, message: message, withoutBody: machine.rejectedRequestIsHEAD)
        server.requestMetrics.recordRejected(statusCode: error.status.code, protocol: .http1)
        // A request admitted by its check whose body failed never reaches a handler: what the
        // check left must not reach another request's (the connection closes anyway).
        _ = takeScreenedRequest()
    }

    /// A complete error response with `Connection: close`, written directly from the loop side;
    /// `withoutBody` for a `HEAD` request (its length is still declared, as for a `GET`).
    private func writeSimple(status: HTTPResponse.Status, message: String, headerFields: HTTPFields = [:], withoutBody: Bool = false) {
        writeClosing(HTTPError(status, message: message, headerFields: headerFields).response, withoutBody: withoutBody)
    }

    /// A complete response with a byte body and `Connection: close`, written directly from the
    /// loop side (see ``writeSimple(status:message:headerFields:withoutBody:)``).
    func writeClosing(_ response: Response, withoutBody: Bool) {
        // A streamed body (a middleware's doing) is not sent from here: the head alone.
        let body = response.body.bytes ?? []
        let status = response.status
        var extra = server.dateLine.current()
        extra.append(contentsOf: server.serverLine)
        Self.appendContentLength(body.count, to: &extra)
        extra.append(contentsOf: "connection: close\r\n".utf8)
        var buffer: [UInt8] = []
        HTTPResponseSerializer.writeHead(
            HTTPResponse(status: status, headerFields: response.headerFields), extraFieldLines: extra, into: &buffer)
        if !withoutBody { buffer.append(contentsOf: body) }
        transport.write(buffer)
    }

    static func appendContentLength(_ count: Int, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: "content-length: ".utf8)
        buffer.append(contentsOf: String(count).utf8)
        buffer.append(contentsOf: "\r\n".utf8)
    }

    static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
}
