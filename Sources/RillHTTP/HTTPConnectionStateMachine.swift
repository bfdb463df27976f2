package import HTTPTypes

/// The server side of one HTTP/1.1 connection as a value type: bytes and events in, actions out.
///
/// It owns the request parser and decides, without any I/O, when a request is complete and
/// may be handled, when to send `100 Continue`, when to stop reading (too many pipelined
/// requests waiting), when to reject with an error status and when to close. The connection
/// object that owns the socket performs the actions in order.
///
/// One request is handled at a time; pipelined requests that arrive meanwhile are parsed and
/// queued, so their responses leave in request order.
///
/// ```
///   bytes ──► receive(_:) ──► [.handle(head, body)] ──► handler runs ──► responseFinished()
///                                                                        └► next queued request
/// ```
///
/// What only reading requests needs (the parser, the request being received, the queue of
/// pipelined ones; 340 bytes) lives in one object that the machine drops while an endless
/// response streams, so an idle event stream holds none of it. The machine is noncopyable:
/// that object is never shared by two machines.
public struct HTTPConnectionStateMachine: ~Copyable, @unchecked Sendable {
    /// Bounds for one connection.
    public struct Configuration: Sendable {
        /// The parser's limits (head size, target length, default body size, header count).
        public var parserLimits: HTTPRequestParser.Limits
        /// How many complete requests may wait behind the one being handled before reading
        /// stops. Bounds the memory a pipelining client can make us hold.
        public var maxQueuedRequests: Int
        /// How many bytes of requests not yet handled (complete ones waiting, a partial one, and
        /// unparsed input) the connection holds behind the one being handled before reading
        /// stops. With ``maxQueuedRequests`` it bounds what pipelining costs: a count alone let
        /// 32 queued requests with 1 MiB bodies each hold 32 MiB per connection.
        public var maxQueuedRequestBytes: Int

        /// Creates a configuration.
        public init(
            parserLimits: HTTPRequestParser.Limits = .init(), maxQueuedRequests: Int = 32,
            maxQueuedRequestBytes: Int = 64 * 1024
        ) {
            self.parserLimits = parserLimits
            self.maxQueuedRequests = maxQueuedRequests
            self.maxQueuedRequestBytes = maxQueuedRequestBytes
        }
    }

    /// A ``Configuration`` that many machines share: a server makes one, and each of its
    /// connections' machines holds a reference to it rather than a 48-byte copy.
    package final class SharedConfiguration: Sendable {
        package let configuration: Configuration

        package init(_ configuration: Configuration) { self.configuration = configuration }
    }

    /// What the connection must do, in order.
    public enum Action: Sendable, Equatable {
        /// Write the interim `HTTP/1.1 100 Continue` response.
        case sendContinue
        /// Screen this head before its body is read (its ``BodyAdmission`` asked for it): admit
        /// or refuse it with ``headScreened(admitted:admission:into:)``. Reading is paused
        /// meanwhile, so the body waits in the kernel.
        case screenHead(HTTPRequestHead)
        /// Start handling this complete request; call ``responseFinished(keepAlive:)`` when its
        /// response is fully written.
        case handle(HTTPRequestHead, body: [UInt8])
        /// Write an error response for this parse error with `Connection: close`, then close
        /// after flushing. Nothing more will be read.
        case reject(HTTPParserError)
        /// Stop reading from the socket (backpressure).
        case pauseReading
        /// Start reading again.
        case resumeReading
        /// The peer is gone or finished: cancel the request being handled, if any.
        case cancelHandling
        /// Flush what was written, then close the connection.
        case closeAfterFlush
        /// Close now: nothing is left to send.
        case close
    }

    /// Where the connection is, for timeouts.
    public enum Phase: Sendable, Equatable {
        /// Waiting for a request with nothing received: the keep-alive idle timeout applies.
        case idle
        /// Part of a request has arrived: the slow-request (408) timeout applies.
        case receivingRequest
        /// A request is being handled (responses may stream for hours: no timeout here).
        case handling
        /// Closing or closed.
        case closed
    }

    @usableFromInline enum Queued: Sendable {
        /// A complete request and the bytes it holds (its head as received, and its body).
        case request(HTTPRequestHead, [UInt8], heldBytes: Int)
        case error(HTTPParserError)
    }

    /// The read side of the connection while it reads requests: the parser and what it
    /// produced that is not yet handled. Its properties skip the runtime's dynamic exclusivity
    /// check (`@exclusivity(unchecked)`): the machine owns the one reference and mutates them only
    /// from its own methods, never overlapping; the check was the largest single item in a
    /// request's parse (perf, issue 14).
    @usableFromInline final class RequestInput {
        @exclusivity(unchecked) @usableFromInline var parser: HTTPRequestParser
        /// The head of the request whose body is being received.
        @exclusivity(unchecked) @usableFromInline var currentHead: HTTPRequestHead?
        @exclusivity(unchecked) var currentBody: [UInt8] = []
        /// Complete requests (or a parse error) waiting behind the one being handled.
        @exclusivity(unchecked) @usableFromInline var queue: [Queued] = []

        init(limits: HTTPRequestParser.Limits) { parser = HTTPRequestParser(limits: limits) }

        /// Whether part of a request, or a complete one not yet handled, is held.
        @inlinable var holdsRequest: Bool { currentHead != nil || parser.hasPartialRequest || !queue.isEmpty }
    }

    // `@usableFromInline`: read by the inlinable ``phase``, which the connection asks after
    // every event (an opaque getter made the caller copy the whole machine each time).
    /// Nil while an endless response streams (its input is dropped unread) and once closed.
    @usableFromInline var input: RequestInput?
    private let shared: SharedConfiguration
    private var configuration: Configuration { shared.configuration }
    @usableFromInline var handling = false
    private var readingPaused = false
    private var inputEnded = false
    private var parseStopped = false
    @usableFromInline var closed = false
    /// Whether the request a ``Action/reject(_:)`` answers is a `HEAD` (its error response
    /// then has no body).
    package private(set) var rejectedRequestIsHEAD = false
    /// A head with `Expect: 100-continue` whose interim response waits until no response is in
    /// progress (an interim response must not land inside another response).
    private var continuePending = false
    /// The current head waits for screening (``Action/screenHead(_:)``): nothing more is parsed.
    private var screening = false
    /// The screening was asked for (it waits until no response is in progress and no request
    /// is queued before it: its answer must not land inside another response).
    private var screenAsked = false
    /// An endless response (an event stream) is in progress: input is read only to notice the
    /// end of it, and dropped.
    private var discardingInput = false
    /// Input arrived behind an endless response and was dropped, so the connection cannot go on
    /// after it.
    private var discardedInput = false

    /// Creates the state machine of a new connection.
    public init(configuration: Configuration = .init()) {
        self.init(sharing: SharedConfiguration(configuration))
    }

    /// Creates the state machine of a new connection, with bounds shared with other machines.
    package init(sharing configuration: SharedConfiguration) {
        shared = configuration
        input = RequestInput(limits: configuration.configuration.parserLimits)
    }

    /// The connection's phase, for choosing which timeout applies.
    @inlinable public var phase: Phase {
        if closed { return .closed }
        if handling { return .handling }
        if let input, input.holdsRequest { return .receivingRequest }
        return .idle
    }

    /// Whether a request is being handled right now.
    public var isHandling: Bool { handling }

    /// Feeds bytes read from the socket.
    ///
    /// - Parameters:
    ///   - bytes: what was read.
    ///   - bodyLimit: the maximum body size for a request with this head (per-route limits), or
    ///     nil for the configured default.
    ///   - actions: receives the actions to perform, in order.
    public mutating func receive(
        _ bytes: UnsafeRawBufferPointer, bodyLimit: (HTTPRequestHead) -> Int?, into actions: inout [Action]
    ) {
        receive(bytes, admission: { BodyAdmission(maxBytes: bodyLimit($0)) }, into: &actions)
    }

    /// Feeds bytes read from the socket.
    ///
    /// - Parameters:
    ///   - bytes: what was read.
    ///   - admission: what a request with this head may send as its body (per-route limits,
    ///     screening); asked for heads that announce a body.
    ///   - actions: receives the actions to perform, in order.
    public mutating func receive(
        _ bytes: UnsafeRawBufferPointer, admission: (HTTPRequestHead) -> BodyAdmission, into actions: inout [Action]
    ) {
        guard !closed, !parseStopped else { return }
        guard let input, !discardingInput else {
            if bytes.count > 0 { discardedInput = true }
            return
        }
        input.parser.append(bytes)
        parse(input, admission: admission, into: &actions)
    }

    /// The connection screened the head it was given with ``Action/screenHead(_:)``. Admitted,
    /// the body is read (after `100 Continue`, if the client waits for it); refused, the
    /// connection has written its answer, and closes once it left: the body is never read.
    public mutating func headScreened(
        admitted: Bool, admission: (HTTPRequestHead) -> BodyAdmission, into actions: inout [Action]
    ) {
        guard screening, screenAsked, !closed, let input else { return }
        screening = false
        screenAsked = false
        guard admitted else {
            close(flushing: true, into: &actions)
            return
        }
        // Screening happens only while no response is in progress, so the interim response
        // cannot land inside one.
        if input.currentHead?.expectsContinue == true { actions.append(.sendContinue) }
        if readingPaused {
            readingPaused = false
            actions.append(.resumeReading)
        }
        parse(input, admission: admission, into: &actions)
        // The client finished sending during the screening and its request is not complete:
        // nothing more will come.
        if inputEnded && !handling && !closed { close(flushing: true, into: &actions) }
    }

    /// The response of the request being handled is completely written.
    ///
    /// - Parameter keepAlive: false when the response itself requires closing (for example a
    ///   handler failed after the head was sent).
    public mutating func responseFinished(
        keepAlive: Bool, bodyLimit: (HTTPRequestHead) -> Int?, into actions: inout [Action]
    ) {
        responseFinished(keepAlive: keepAlive, admission: { BodyAdmission(maxBytes: bodyLimit($0)) }, into: &actions)
    }

    /// The response of the request being handled is completely written.
    ///
    /// - Parameters:
    ///   - keepAlive: false when the response itself requires closing (for example a handler
    ///     failed after the head was sent).
    ///   - admission: see ``receive(_:admission:into:)``.
    ///   - actions: receives the actions to perform, in order.
    public mutating func responseFinished(
        keepAlive: Bool, admission: (HTTPRequestHead) -> BodyAdmission, into actions: inout [Action]
    ) {
        guard handling else { return }
        handling = false
        guard !closed else { return }
        let inputWasDropped = discardedInput
        discardingInput = false
        if !keepAlive || inputWasDropped {
            close(flushing: true, into: &actions)
            return
        }
        if dispatchNext(into: &actions) { return }
        if inputEnded {
            close(flushing: true, into: &actions)
            return
        }
        // After an endless response that dropped nothing, the connection reads requests again.
        let input = self.input ?? RequestInput(limits: configuration.parserLimits)
        self.input = input
        // Parse what was held back while the response was in progress.
        parse(input, admission: admission, into: &actions)
        // A head waiting for its screening keeps reading paused (its body waits in the kernel).
        if !closed && readingPaused && !screening && input.queue.count < configuration.maxQueuedRequests
            && heldRequestBytes < configuration.maxQueuedRequestBytes
        {
            readingPaused = false
            actions.append(.resumeReading)
        }
    }

    /// The response being handled is endless (an event stream): from now on input is read only
    /// so that the peer's leaving is noticed, and dropped; nothing is buffered or parsed. A
    /// request pipelined behind such a response can never be answered in turn, so if any was
    /// received, the connection closes once the response ends. Reading resumes if it was paused.
    public mutating func responseIsEndless(into actions: inout [Action]) {
        guard handling, !closed else { return }
        discardingInput = true
        if let input, input.holdsRequest { discardedInput = true }
        input = nil
        continuePending = false
        screening = false
        screenAsked = false
        if readingPaused {
            readingPaused = false
            actions.append(.resumeReading)
        }
    }

    /// The bytes of the body being received (the request whose head came and whose end did not).
    public var receivingBodyByteCount: Int { input?.currentBody.count ?? 0 }

    /// Bytes held for requests not yet handled: complete ones queued (heads and bodies), the
    /// body of the one being received, and unparsed input. While a response is in progress it
    /// stays within ``Configuration/maxQueuedRequestBytes`` plus one read (and the header lines
    /// of one head, bounded by the parser's `maxHeaderBytes`).
    public var heldRequestByteCount: Int { heldRequestBytes }

    private var heldRequestBytes: Int {
        guard let input else { return 0 }
        var bytes = input.currentBody.count + input.parser.bufferedByteCount
        for case .request(_, _, let heldBytes) in input.queue { bytes += heldBytes }
        return bytes
    }

    /// Gives the header fields of a request whose response is done back to the parser, for the
    /// next head (``HTTPRequestParser/recycleHeaderFields(_:)``).
    package mutating func recycleHeaderFields(_ fields: HTTPFields) { input?.parser.recycleHeaderFields(fields) }

    /// Whether the parser holds fields for its next head (see ``recycleHeaderFields(_:)``).
    package var hasSpareHeaderFields: Bool { input?.parser.hasSpareHeaderFields ?? false }

    /// The recycled fields no head has used yet, taken back (``HTTPRequestParser/takeSpareHeaderFields()``).
    package mutating func takeSpareHeaderFields() -> HTTPFields? { input?.parser.takeSpareHeaderFields() }

    /// Whether the next read would allocate the parser's receive buffer (see ``lendInputBuffer(_:)``).
    package var wantsInputBuffer: Bool { input?.parser.hasNoBuffer ?? false }

    /// Lends `spare`'s storage to the parser as its receive buffer (a loop's spare one: the
    /// first read of a connection then allocates nothing).
    package mutating func lendInputBuffer(_ spare: inout [UInt8]) { input?.parser.adoptBuffer(&spare) }

    /// The parser's receive buffer, emptied, when all of it was consumed: for the caller to
    /// lend to another connection (``lendInputBuffer(_:)``) instead of freeing it.
    package mutating func takeConsumedInputBuffer() -> [UInt8]? { input?.parser.takeBufferIfConsumed() }

    /// Frees buffers kept for the next request while a long response streams (an idle SSE
    /// connection should hold no read-side memory).
    public mutating func releaseIdleMemory() {
        guard let input else { return }
        if input.queue.isEmpty { input.queue = [] }
        if input.currentHead == nil && input.currentBody.isEmpty { input.currentBody = [] }
        input.parser.releaseBufferIfConsumed()
    }

    /// The peer finished sending (EOF). A request in progress is cancelled, but its response
    /// may still be written; queued complete requests are answered first.
    public mutating func inputEnded(into actions: inout [Action]) {
        guard !closed else { return }
        inputEnded = true
        if handling {
            actions.append(.cancelHandling)
            return
        }
        // A head being screened: its verdict decides (an admitted request whose body arrived
        // before the end is still answered; the connection closes after it).
        if screening { return }
        if dispatchNext(into: &actions) { return }
        close(flushing: true, into: &actions)
    }

    /// The socket failed (reset) or the server gives up on the connection.
    public mutating func connectionFailed(into actions: inout [Action]) {
        guard !closed else { return }
        if handling { actions.append(.cancelHandling) }
        closed = true
        input = nil
        actions.append(.close)
    }

    /// Ends the connection at the next point where no response is in progress (graceful
    /// shutdown, idle timeout). Returns whether it closed right away.
    public mutating func closeWhenIdle(into actions: inout [Action]) {
        guard !closed else { return }
        // A request whose body is arriving (or whose head is being screened) is not idle: it
        // is received and answered, and that response, made while the server shuts down,
        // closes the connection (the shutdown's deadline bounds the wait).
        if !handling, let input, input.currentHead != nil {
            input.queue.removeAll()
            return
        }
        inputEnded = true
        input?.queue.removeAll()
        if !handling { close(flushing: true, into: &actions) }
    }

    // MARK: - Internals

    private mutating func close(flushing: Bool, into actions: inout [Action]) {
        closed = true
        input = nil
        actions.append(flushing ? .closeAfterFlush : .close)
    }

    /// Starts the next queued request or error if nothing is being handled.
    /// Returns true if something was dispatched (or the connection closed).
    private mutating func dispatchNext(into actions: inout [Action]) -> Bool {
        guard !handling, let input, !input.queue.isEmpty else { return false }
        switch input.queue.removeFirst() {
        case .request(let head, let body, _):
            handling = true
            actions.append(.handle(head, body: body))
        case .error(let error):
            closed = true
            rejectedRequestIsHEAD = input.parser.headInProgressIsHEAD
            self.input = nil
            actions.append(.reject(error))
        }
        return true
    }

    private mutating func parse(_ input: RequestInput, admission: (HTTPRequestHead) -> BodyAdmission, into actions: inout [Action]) {
        while !closed {
            if screening {
                // Asked once no response is in progress and nothing is queued before it.
                if !screenAsked && !handling && input.queue.isEmpty, let head = input.currentHead {
                    screenAsked = true
                    actions.append(.screenHead(head))
                }
                // The body waits for the screening's verdict, in the kernel.
                if !readingPaused {
                    readingPaused = true
                    actions.append(.pauseReading)
                }
                return
            }
            let full =
                handling
                && (input.queue.count >= configuration.maxQueuedRequests
                    || heldRequestBytes >= configuration.maxQueuedRequestBytes)
            if full || continuePending {
                if continuePending && !handling && input.queue.isEmpty {
                    continuePending = false
                    actions.append(.sendContinue)
                    continue
                }
                if !readingPaused {
                    readingPaused = true
                    actions.append(.pauseReading)
                }
                return
            }
            let event: HTTPParserEvent?
            do {
                event = try input.parser.next()
            } catch {
                parseStopped = true
                input.currentHead = nil
                input.queue.append(.error(error))
                _ = dispatchNext(into: &actions)
                return
            }
            guard let event else { return }
            switch event {
            case .head(let head):
                let admitted = head.bodyFraming == .none ? BodyAdmission(maxBytes: nil) : admission(head)
                let limit = admitted.maxBytes ?? configuration.parserLimits.maxBodyBytes
                input.parser.setBodyLimit(forCurrentRequest: limit)
                input.currentHead = head
                input.currentBody = []
                // No `100 Continue` for a body already known to be too large: the 413 (the
                // screening's, else the one the parser raises next) is the answer the client is
                // waiting for.
                var bodyFits = true
                if case .contentLength(let length) = head.bodyFraming { bodyFits = length <= limit }
                // A head to screen waits for its verdict before any of its body is read (and
                // before `100 Continue`) — pipelined behind a response in progress too, then
                // screened once that response and those queued before it are done. A head that
                // declares too large a body is screened too when asked: its 413 then comes from
                // the screening (through the application's middleware).
                if admitted.isScreened && head.bodyFraming != .none {
                    screening = true
                    continue
                }
                if head.expectsContinue && head.bodyFraming != .none && bodyFits {
                    if handling || !input.queue.isEmpty {
                        continuePending = true
                    } else {
                        actions.append(.sendContinue)
                    }
                }
            case .body(let bytes):
                if input.currentBody.isEmpty { input.currentBody = bytes } else { input.currentBody.append(contentsOf: bytes) }
            case .end:
                guard let head = input.currentHead else { continue }
                input.currentHead = nil
                let body = input.currentBody
                input.currentBody = []
                let heldBytes = input.parser.lastHeadByteCount + body.count
                if !handling && input.queue.isEmpty {
                    // The common case, one request at a time: straight to the handler (the queue
                    // would cost an allocation per connection only to be emptied at once).
                    handling = true
                    actions.append(.handle(head, body: body))
                } else {
                    input.queue.append(.request(head, body, heldBytes: heldBytes))
                    if !handling { _ = dispatchNext(into: &actions) }
                }
            }
        }
    }
}
