import RillCore
import RillSSE

/// One SSE client: connect, send the GET, check the head, then count what arrives — on a
/// connection of its own (HTTP/1.1), or as one stream of a shared ``HTTP2LoadConnection``
/// (`--h2`). Either way the body goes through the same counting and parsing
/// (``receiveBody(_:)``). Loop-confined; its ``LoadDriver`` decides about retries and
/// bookkeeping.
final class SSEClient: TransportDelegate {
    enum Phase {
        /// Not started yet.
        case waiting
        case connecting
        case awaitingHead
        /// Got `200 text/event-stream`: the stream is open.
        case streaming
        /// A failed attempt waits for its retry.
        case retryWait
        /// Gave up (no retries left, or a response that retrying cannot fix).
        case failed
        /// The server ended the stream or closed the connection after the head.
        case closedByServer
        /// The harness closed it (teardown).
        case closed
    }

    let index: Int
    unowned let driver: LoadDriver
    private(set) var phase = Phase.waiting
    /// The connection: the TCP stream, or TLS over it (HTTP/1.1 only).
    private(set) var stream: (any Transport)?
    /// The HTTP/2 stream of the current attempt (`--h2`): its connection and stream id.
    private var http2Stream: (connection: HTTP2LoadConnection, streamID: Int32)?
    /// Connection attempts made so far.
    private(set) var attempts = 0
    private var decoder = ResponseDecoder()
    private var commentCounter = CommentCounter()
    private var parser = ServerSentEventParser()
    /// Response body bytes received, over every attempt.
    private(set) var bodyBytes = 0
    /// Events dispatched (`data:` blocks); heartbeat comments are counted in ``comments``.
    private(set) var events = 0
    /// When the first attempt started (µs, monotonic): time-to-open includes retries.
    private(set) var firstStartMicroseconds: UInt64 = 0
    /// When the current attempt connected (loop ms), for the head timeout.
    private(set) var connectedMilliseconds: UInt64 = 0
    /// The response status, once a head arrived.
    private(set) var status = 0
    /// Whether the client was counted as settled (open or given up) during the ramp.
    var settled = false
    /// Body bytes when the hold began, to tell whether anything arrived during the hold.
    var bodyBytesAtHoldStart = 0
    var commentsAtHoldStart = 0

    init(index: Int, driver: LoadDriver) {
        self.index = index
        self.driver = driver
    }

    var comments: Int { commentCounter.comments }
    var isInFlight: Bool { phase == .connecting || phase == .awaitingHead }

    /// Starts one connection attempt.
    func connect() {
        if attempts == 0 { firstStartMicroseconds = monotonicMicroseconds() }
        attempts += 1
        phase = .connecting
        decoder = ResponseDecoder()
        if let connection = driver.http2Connection(for: index) {
            // The connection sends the request once it is up (at once if it is).
            connection.open(self)
            return
        }
        // Given up while connecting (ramp deadline): the late connection is dropped.
        driver.connectTransport(for: index, isWanted: { [self] in phase == .connecting }) { [self] result in
            switch result {
            case .success(let stream):
                self.stream = stream
                driver.streamOpened()
                phase = .awaitingHead
                connectedMilliseconds = driver.loop.nowMilliseconds
                stream.delegate = self
                stream.startReading()
                stream.write(driver.requestBytes)
            case .failure(let failure):
                guard phase == .connecting else { return }
                driver.attemptFailed(self, reason: failure.reason, retryable: failure.isRetryable)
            }
        }
    }

    /// Marks the client for a retry or as given up; the driver decides which.
    func markRetrying() { phase = .retryWait }

    func markFailed() {
        phase = .failed
        cancelHTTP2Stream()
        stream?.close()
    }

    /// Closes the connection at teardown (an HTTP/2 stream's connection is closed by the
    /// driver, with its other streams).
    func closeForTeardown() {
        if phase == .streaming || isInFlight { phase = .closed }
        http2Stream = nil
        stream?.close()
    }

    // MARK: The response, over either protocol

    /// Checks a complete response head: `200` with `text/event-stream` opens the stream;
    /// anything else fails the attempt (a 503 may be retried). Returns whether it opened.
    private func headArrived(status: Int, contentType: String) -> Bool {
        self.status = status
        if status != 200 {
            // 503 means over capacity right now: worth a bounded retry. Anything else is final.
            failAttempt(reason: "status \(status)", retryable: status == 503)
            return false
        }
        guard contentType.lowercased().hasPrefix("text/event-stream") else {
            failAttempt(reason: "content-type \(contentType.isEmpty ? "missing" : contentType)", retryable: false)
            return false
        }
        phase = .streaming
        driver.clientOpened(self)
        return true
    }

    /// Body bytes of the stream, however they were framed: counted, heartbeat comments
    /// counted, events parsed and handed to the driver's sink.
    private func receiveBody(_ body: UnsafeRawBufferPointer) {
        bodyBytes += body.count
        commentCounter.feed(body)
        let parsed = parser.parse(body)
        events += parsed.count
        if !parsed.isEmpty, let sink = driver.eventSink { sink.client(self, received: parsed) }
    }

    /// The server ended the stream, or the connection went, after the head.
    private func endedByServer() {
        phase = .closedByServer
        driver.clientClosedByServer(self)
    }

    // MARK: HTTP/2 (called by the HTTP2LoadConnection)

    /// The request went out on `streamID` of `connection`: the head timeout starts.
    func http2StreamStarted(on connection: HTTP2LoadConnection, streamID: Int32) {
        http2Stream = (connection, streamID)
        phase = .awaitingHead
        connectedMilliseconds = driver.loop.nowMilliseconds
    }

    /// The response head arrived on the stream.
    func http2HeadArrived(status: Int, contentType: String, endStream: Bool) {
        guard phase == .awaitingHead, headArrived(status: status, contentType: contentType), endStream else { return }
        http2Stream = nil
        endedByServer()
    }

    /// DATA of the stream.
    func http2DataArrived(_ bytes: UnsafeRawBufferPointer) {
        guard phase == .streaming else { return }
        receiveBody(bytes)
    }

    /// The stream closed (`reason`: its reset code, or the connection's end).
    func http2StreamClosed(reason: String) {
        http2Stream = nil
        switch phase {
        case .awaitingHead: failAttempt(reason: reason, retryable: true)
        case .streaming: endedByServer()
        default: break
        }
    }

    /// The connection could not carry this attempt (connect error, GOAWAY, no h2 in ALPN).
    func http2AttemptFailed(reason: String, retryable: Bool) {
        guard phase == .connecting || phase == .awaitingHead else { return }
        http2Stream = nil
        phase = .retryWait
        driver.attemptFailed(self, reason: reason, retryable: retryable)
    }

    /// Resets the current attempt's HTTP/2 stream, if any (`CANCEL`).
    private func cancelHTTP2Stream() {
        guard let (connection, streamID) = http2Stream else { return }
        http2Stream = nil
        connection.cancel(streamID)
    }

    // MARK: TransportDelegate

    func transport(_ stream: any Transport, didRead bytes: UnsafeRawBufferPointer) {
        guard phase == .awaitingHead || phase == .streaming else { return }
        let completedHead: Bool
        do {
            completedHead = try decoder.feed(bytes) { body in receiveBody(body) }
        } catch {
            failAttempt(reason: "bad response (\(error))", retryable: false)
            return
        }
        if completedHead, let head = decoder.head {
            guard headArrived(status: head.status, contentType: head.contentType) else { return }
        }
        if decoder.isEnded && phase == .streaming {
            endedByServer()
            stream.close()
        }
    }

    func transport(_ stream: any Transport, didEndReadingWith error: UVError?) {
        switch phase {
        case .awaitingHead:
            failAttempt(reason: error?.name ?? "EOF before head", retryable: true)
        case .streaming:
            endedByServer()
            stream.close()
        default:
            stream.close()
        }
    }

    func transportDidDrain(_ stream: any Transport) {}

    func transportDidClose(_ stream: any Transport) {
        if self.stream === stream { self.stream = nil }
        driver.streamClosed()
        if phase == .streaming {
            // Closed under us (a write error): the server side is gone.
            endedByServer()
        }
    }

    /// The head did not arrive in time.
    func headTimedOut() {
        failAttempt(reason: "head timeout", retryable: true)
    }

    private func failAttempt(reason: String, retryable: Bool) {
        let stream = self.stream
        phase = .retryWait
        cancelHTTP2Stream()
        stream?.close()
        driver.attemptFailed(self, reason: reason, retryable: retryable)
    }
}
