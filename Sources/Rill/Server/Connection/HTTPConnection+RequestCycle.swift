import HTTPTypes
import Logging
import RillCore
import RillHTTP
import RillPubSub

/// The response in progress on a connection, as its task side sees it: the handler's task and
/// how the response is framed. Reset for every request.
struct RequestCycle {
    /// The handler's task, then the streamed body's; nil between them and when done.
    var handlerTask: Task<Void, Never>?
    /// The event stream's queued-bytes limit, for the heartbeat's stalled-client check.
    var eventStreamMaxQueuedBytes = 0
    /// The request in progress was cancelled (EOF, reset, shutdown): a body task started later
    /// for it starts cancelled.
    var isCancelled = false
    /// The response must end with the connection (HTTP/1.0 stream, a handler asked, a late error).
    var closeAfterResponse = false
    /// The response uses chunked framing.
    var chunked = false
    /// The request is HEAD: heads only.
    var headOnly = false
    /// The response is an event stream written by a task (shutdown cancels it at once).
    var streamingEvents = false
    // The request's id and start time are not kept here but passed to the head's writing: a
    // connection keeps its cycle for an event stream's whole life.

    /// A new request is handled by `task`.
    init(handlerTask: Task<Void, Never>? = nil) { self.handlerTask = handlerTask }
}

/// A synchronous handler's response, made inline and written once the connection performed the
/// actions of the pass that started it (kept on the stack, not in the connection).
struct InlineResponse {
    let response: Response
    let head: HTTPRequestHead
    let requestID: RequestID?
    /// When the request was complete (`RequestMetrics.nowNanoseconds()`).
    let startNanoseconds: UInt64
}

/// The request cycle, task side: runs the handler on the loop's executor, writes the head, then
/// streams the body — a writer or an event stream through the connection as a
/// ``ResponseBodySink``, a subscription through an ``EventStreamRelay`` — and hands the
/// connection back to the loop side when the response is done.
extension HTTPConnection: ResponseBodySink {
    /// Runs the handler of a complete request: a synchronous one that no middleware wraps at
    /// once, returning its response for the caller to write when its actions are done; any
    /// other in a task of its own on the loop (nil).
    func startHandler(head: HTTPRequestHead, body: [UInt8]) -> InlineResponse? {
        let request = Request(head: head, body: body)
        let screened = takeScreenedRequest()
        let requestID = screened?.id ?? server.requestIDs.id(for: head.headerFields)
        var context = RequestContext(
            logger: server.logger, remoteAddress: remoteAddress, eventLoop: server.loop, pubSub: server.pubSub, requestID: requestID)
        if let screened { context.storage = screened.storage }
        cycle = RequestCycle()
        let start = RequestMetrics.nowNanoseconds()
        let responder: Responder
        switch server.startHandling(request, context: &context) {
        case .answered(let response):
            return InlineResponse(response: response, head: head, requestID: requestID, startNanoseconds: start)
        case .inTask(let taskResponder):
            responder = taskResponder
        }
        cycle.handlerTask = Task(executorPreference: server.loop.executor) { [self] in
            await self.respond(to: request, context: context, using: responder, startNanoseconds: start)
        }
        return nil
    }

    /// Writes a synchronous handler's response. Returns true when the response is done and the
    /// machine queued what follows in `actions` (the caller performs them); false when a task
    /// or a relay finishes it later, or the connection closed.
    func finishInlineResponse(_ inline: InlineResponse) -> Bool {
        guard deliver(inline.response, for: inline.head, requestID: inline.requestID, startNanoseconds: inline.startNanoseconds) else {
            return false
        }
        // The next request's fields may reuse these (only if nothing holds them by then).
        recycleHeaderFields(of: inline.head)
        if mustWaitUntilWritable {
            // A client that pipelines without reading: as in `respond`, the next request waits
            // until this response drained below the low mark.
            cycle.handlerTask = Task(executorPreference: server.loop.executor) { [self] in
                try? await waitUntilWritable()
                cycle.handlerTask = nil
                responseFinished()
            }
            return false
        }
        return responseDone()
    }

    /// Runs `responder` (the route's, or the router's), then writes its response. The async part is only the handler call
    /// and the wait for a drained socket: everything in between is
    /// ``deliver(_:for:requestID:startNanoseconds:)``, a
    /// synchronous function, so that its locals live on the thread's stack, not in this
    /// task's async frame (measured: inlined here they made a 2,864-byte frame, three
    /// task-allocator slabs — three mallocs — per request).
    /// `startNanoseconds`: when the request was complete (`RequestMetrics.nowNanoseconds()`).
    func respond(to request: Request, context: RequestContext, using responder: Responder, startNanoseconds: UInt64) async {
        let response: Response
        do {
            // An async handler may return what a synchronous `eventStream(for:)` left pending.
            let answer = try await responder(request, context)
            response = answer.isPending ? try await answer.resolvingPending() : answer
        } catch {
            response = Self.response(for: error, of: request, context: context)
        }
        guard deliver(response, for: request.head, requestID: context.requestID, startNanoseconds: startNanoseconds) else { return }
        recycleHeaderFields(of: request.head)
        // A client that pipelines without reading must not make us queue response after
        // response: the next request waits until this one drained below the low mark.
        if mustWaitUntilWritable { try? await waitUntilWritable() }
        cycle.handlerTask = nil
        responseFinished()
    }

    /// What a handler's error answers (out of line, like ``deliver(_:for:requestID:startNanoseconds:)``: its locals stay
    /// off the async frame).
    @inline(never)
    static func response(for error: any Error, of request: Request, context: RequestContext) -> Response {
        Response(handlerError: error, logger: context.logger, path: request.path)
    }

    /// Writes `response` (its head, a byte body at once; a streamed body gets a task of its
    /// own, a subscription a relay). Returns true when the response is complete and the caller
    /// must wait for the socket to drain, then finish it.
    @inline(never)
    func deliver(_ response: Response, for head: HTTPRequestHead, requestID: RequestID?, startNanoseconds: UInt64) -> Bool {
        guard !isClosed else {
            // The client left while the handler ran: what the response holds (a broker
            // subscription) must not outlive it.
            if case .subscription(let relay) = response.body.storage { relay.subscription.cancel() }
            cycle.handlerTask = nil
            return false
        }
        // A streamed body's head and what follows at once (a relayed stream's opening comment
        // and replay) leave in one write: writeHead begins coalescing writes for it.
        switch writeHead(of: response, for: head, requestID: requestID, startNanoseconds: startNanoseconds) {
        case nil:
            return true
        case .subscription(let relay) where relay.subscription.eventLoop === server.loop:
            cycle.handlerTask = nil
            relaySubscription(relay)
            transport.endCoalescingWrites()
        case .subscription(let relay):
            // A broker that lives on another loop (a single-loop broker such as Redis, on the
            // application's first loop): the stream's task iterates the subscription, which
            // hops to that loop per event. Opened while the server shuts down: it starts
            // cancelled (see writeHead's event streams).
            if server.isShuttingDown { cycle.isCancelled = true }
            startBodyTask(ResponseBody(storage: .subscription(relay)))
        case .produced(let body):
            startBodyTask(body)
        }
        return false
    }

    /// Starts the task that produces a streamed body after the head.
    private func startBodyTask(_ body: ResponseBody) {
        transport.endCoalescingWrites()
        // A streamed body outlives the routing task: it gets a task of its own, so that the
        // routing task ends and frees its frames, the request and the response (several KB
        // per long-lived stream), and the stream's task holds only what the body needs.
        let cancelled = cycle.isCancelled
        cycle.handlerTask = Task(executorPreference: server.loop.executor) { [self] in
            await self.streamBody(body)
        }
        if cancelled { cycle.handlerTask?.cancel() }
    }

    /// The body part that still has to be produced after the head.
    enum StreamedBody {
        /// Written by the body's own task (`ResponseBody.write(to:)`).
        case produced(ResponseBody)
        /// Relayed by the connection, with no task.
        case subscription(SubscriptionRelay)
    }

    /// Writes the head (and a byte body) at once; returns the body still to stream, if any —
    /// then the transport coalesces writes, and the caller ends that with
    /// `endCoalescingWrites()` once the stream's opening is written.
    /// `requestID` is echoed as `X-Request-Id`; `startNanoseconds` times the request.
    func writeHead(of response: Response, for head: HTTPRequestHead, requestID: RequestID?, startNanoseconds: UInt64) -> StreamedBody? {
        cycle.headOnly = head.method == .head
        cycle.closeAfterResponse = !head.keepAlive
        let status = response.status
        server.requestMetrics.record(
            method: head.method, statusCode: status.code, protocol: .http1, startNanoseconds: startNanoseconds)
        let bodyAllowed = status.permitsBody
        let knownByteCount = response.body.knownByteCount
        let streamsBody = knownByteCount == nil && bodyAllowed && !cycle.headOnly
        if streamsBody {
            // A stream of declared length is framed by Content-Length; otherwise chunked, but
            // HTTP/1.0 has no chunked encoding: the body ends when the connection closes.
            cycle.chunked = head.version != .http1_0 && response.body.byteCount == nil
            if !cycle.chunked && response.body.byteCount == nil { cycle.closeAfterResponse = true }
        }
        // Framing is the server's: a handler's Content-Length, Transfer-Encoding or Connection
        // would contradict what is actually sent. A handler asking to close is honoured.
        var fields = response.headerFields
        let (hasFramingField, hasRequestID) = Self.scanHandlerFields(fields)
        if hasFramingField {
            if fields[.connection]?.lowercased().contains("close") == true { cycle.closeAfterResponse = true }
            fields[.connection] = nil
            fields[.contentLength] = nil
            fields[.transferEncoding] = nil
        }
        // One buffer, the server's reused one: status line, the handler's fields, the server's
        // own lines, a byte body.
        var buffer = server.takeResponseScratch()
        buffer.reserveCapacity(384 + (knownByteCount ?? 0))
        // HTTP/1.1 whatever the request's minor version (RFC 9110 §2.5: the highest this server
        // conforms to); an HTTP/1.0 client learns the connection's fate from `connection:`.
        HTTPResponseSerializer.writeStatusLineAndFields(status: status, headerFields: fields, version: .http1_1, into: &buffer)
        buffer.append(contentsOf: server.dateLine.current())
        buffer.append(contentsOf: server.serverLine)
        if let requestID, !hasRequestID {
            buffer.append(contentsOf: Self.requestIDPrefix)
            requestID.appendValue(to: &buffer)
            buffer.append(contentsOf: [UInt8(ascii: "\r"), UInt8(ascii: "\n")])
        }
        if streamsBody && cycle.chunked {
            buffer.append(contentsOf: Self.chunkedLine)
        } else if bodyAllowed, let byteCount = response.body.byteCount {
            Self.appendContentLength(byteCount, to: &buffer)
        }
        if cycle.closeAfterResponse || server.isShuttingDown {
            cycle.closeAfterResponse = true
            buffer.append(contentsOf: "connection: close\r\n".utf8)
        } else if head.version == .http1_0 {
            buffer.append(contentsOf: "connection: keep-alive\r\n".utf8)
        }
        HTTPResponseSerializer.endHead(into: &buffer)
        if bodyAllowed && !cycle.headOnly { response.body.appendKnownBytes(to: &buffer) }
        guard streamsBody else {
            // The whole response: the kernel takes it from the reused buffer (only what it
            // cannot take at once is copied).
            buffer.withUnsafeBytes { transport.write($0) }
            server.returnResponseScratch(buffer)
            // HEAD (or a status without a body) on a relayed subscription: nothing will read it.
            if case .subscription(let relay) = response.body.storage { relay.subscription.cancel() }
            return nil
        }
        // The head leaves at once, before any streamed byte (SSE clients need it to open),
        // together with what the caller writes before ``endCoalescingWrites()``: the buffer
        // goes to the transport whole, not copied (the server makes a new one next time).
        transport.beginCoalescingWrites()
        transport.write(buffer)
        switch response.body.storage {
        case .subscription(let relay):
            responseIsEndless()
            return .subscription(relay)
        case .eventStream:
            responseIsEndless()
            // Opened while the server shuts down (a request on a connection kept open during the
            // drain): its task starts cancelled, so it ends at once with its farewell and the
            // client reconnects elsewhere — as a stream does when the shutdown begins.
            if server.isShuttingDown { cycle.isCancelled = true }
            return .produced(response.body)
        case .empty, .bytes, .text, .stream, .pending:
            releaseReadBuffers()
            return .produced(response.body)
        }
    }

    func streamBody(_ body: ResponseBody) async {
        do {
            try await body.write(to: self)
            if cycle.chunked && !isClosed { transport.write(HTTPResponseSerializer.lastChunk) }
        } catch {
            endEventStream()
            // The head is out: the only honest signal left is to close without the last chunk.
            if !(error is CancellationError || error is ConnectionClosedError) {
                server.logger.error("streaming body failed", metadata: ["error": "\(error)"])
            }
            cycle.closeAfterResponse = true
        }
        cycle.handlerTask = nil
        responseFinished()
    }

    /// Opens the event stream of `relay` and relays its subscription, with no task.
    func relaySubscription(_ relay: SubscriptionRelay) {
        relay.claim.claim()
        let configuration = relay.configuration ?? eventStreamDefaults
        // The client left (EOF or reset) while the handler subscribed: no later event would
        // end this stream.
        guard !cycle.isCancelled else {
            relay.subscription.cancel()
            cycle.closeAfterResponse = true
            responseFinished()
            return
        }
        do {
            var writer = EventStreamWriter(sink: self, configuration: configuration)
            try writer.open(position: relay.subscription.openingPosition)
            for event in relay.leading { writeEvents(try event.encoded()) }
            startRelay(
                EventStreamRelay(
                    connection: self, subscription: relay.subscription, maxQueuedBytes: configuration.maxQueuedBytes,
                    chunked: cycle.chunked, ending: try EventStreamEnding.make(farewell: relay.farewell, deadline: relay.deadline)))
            if server.isShuttingDown { serverIsShuttingDown() }  // ends at once, as above
        } catch {
            relay.subscription.cancel()
            endEventStream()
            cycle.closeAfterResponse = true
            responseFinished()
        }
    }

    // MARK: ResponseBodySink

    var isShuttingDown: Bool { server.isShuttingDown }
    var eventStreamDefaults: EventStreamConfiguration { server.configuration.eventStream }

    /// One body chunk from the handler; suspends above the high-water mark.
    func writeBodyChunk(_ bytes: [UInt8]) async throws {
        guard !isClosed, !transport.isClosing else { throw ConnectionClosedError() }
        guard !bytes.isEmpty else { return }
        writeFramed(bytes)
        try await waitUntilWritable()
    }

    /// Whether more than the high-water mark is queued for the client.
    var mustWaitUntilWritable: Bool {
        WriteFlowControl.mustWait(queuedBytes: transport.queuedBytes, highWaterMarkBytes: server.configuration.writeHighWaterMarkBytes)
    }

    /// Suspends while more than the high-water mark is queued for the client. Out of line: the
    /// callers test ``mustWaitUntilWritable`` first, so its frame is allocated only to wait.
    @inline(never)
    func waitUntilWritable() async throws {
        guard mustWaitUntilWritable else { return }
        try await suspendUntilDrained(lowWaterMarkBytes: server.configuration.writeLowWaterMarkBytes)
    }

    /// Marks the response as an event stream and starts its heartbeats.
    func beginEventStream(_ configuration: EventStreamConfiguration) {
        cycle.streamingEvents = true
        cycle.eventStreamMaxQueuedBytes = configuration.maxQueuedBytes
        startHeartbeats(every: configuration.heartbeatInterval)
    }

    func endEventStream() {
        cycle.streamingEvents = false
        stopHeartbeats()
    }

    /// Writes one or more encoded events as one chunk, in one write. The opening comment and
    /// the heartbeat are framed once, shared by every connection.
    func writeEvents(_ bytes: [UInt8]) {
        guard !isClosed, !bytes.isEmpty else { return }
        noteEventWrite()
        if cycle.chunked, let shared = Self.sharedChunk(of: bytes) {
            transport.write(shared)
        } else {
            writeFramed(bytes)
        }
    }

    /// ``writeEvents(_:)`` for borrowed bytes: framed on the stack and handed to the transport,
    /// which appends them to the coalesced opening of the stream (no allocation) or writes them.
    func writeEvents(contentsOf bytes: UnsafeRawBufferPointer) {
        guard !isClosed, !bytes.isEmpty else { return }
        noteEventWrite()
        guard cycle.chunked else { return transport.write(bytes) }
        let transport = self.transport
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: HTTPResponseSerializer.maxChunkHeaderByteCount + bytes.count + 2) { frame in
            var count = HTTPResponseSerializer.writeChunkHeader(size: bytes.count, into: frame)
            UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: frame[count...])).copyMemory(from: bytes)
            count += bytes.count
            frame[count] = UInt8(ascii: "\r")
            frame[count + 1] = UInt8(ascii: "\n")
            transport.write(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: frame[..<(count + 2)])))
        }
    }

    /// Writes `bytes` (not empty) as one chunk of a chunked body, or as they are.
    private func writeFramed(_ bytes: [UInt8]) {
        guard cycle.chunked else { return transport.write(bytes) }
        var framed: [UInt8] = []
        framed.reserveCapacity(bytes.count + 12)
        HTTPResponseSerializer.writeChunk(bytes, into: &framed)
        transport.write(framed)
    }

    /// Whether a handler's fields hold a framing field the server replaces (`Connection`,
    /// `Content-Length`, `Transfer-Encoding`) and its own request ID, in one pass: a
    /// `fields[name]` lookup is a pass of its own per name (and joins the values into a new
    /// string), four of them on every response.
    static func scanHandlerFields(_ fields: HTTPFields) -> (hasFramingField: Bool, hasRequestID: Bool) {
        var hasFramingField = false
        var hasRequestID = false
        for field in fields {
            let name = field.name
            if name == .connection || name == .contentLength || name == .transferEncoding {
                hasFramingField = true
            } else if name == RequestID.headerName {
                hasRequestID = true
            }
        }
        return (hasFramingField, hasRequestID)
    }

    static let chunkedLine: [UInt8] = Array("transfer-encoding: chunked\r\n".utf8)
    static let requestIDPrefix: [UInt8] = Array("x-request-id: ".utf8)
}
