import RillCore
import RillSSE

/// One SSE client connection: connect, send the GET, check the head, then count what arrives.
/// Loop-confined; its ``LoadDriver`` decides about retries and bookkeeping.
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
    /// The connection: the TCP stream, or TLS over it.
    private(set) var stream: (any Transport)?
    /// Connection attempts made so far.
    private(set) var attempts = 0
    private var decoder = ResponseDecoder()
    private var commentCounter = CommentCounter()
    private var parser = ServerSentEventParser()
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

    var bodyBytes: Int { decoder.bodyBytes }
    var chunks: Int { decoder.chunks }
    var comments: Int { commentCounter.comments }
    var isInFlight: Bool { phase == .connecting || phase == .awaitingHead }

    /// Starts one connection attempt.
    func connect() {
        if attempts == 0 { firstStartMicroseconds = monotonicMicroseconds() }
        attempts += 1
        phase = .connecting
        decoder = ResponseDecoder()
        TCPConnector.connect(
            loop: driver.loop, to: driver.address, timeout: driver.connectTimeout, localHost: driver.sourceHost(for: index)
        ) { [self] result in
            switch result {
            case .success(let tcp):
                guard phase == .connecting else {
                    // Given up while connecting (ramp deadline): drop the late connection.
                    tcp.close()
                    return
                }
                let stream: any Transport
                if let tls = driver.tls {
                    guard let secured = tls.secure(tcp, loop: driver.loop) else {
                        driver.attemptFailed(self, reason: "TLS setup", retryable: false)
                        return
                    }
                    stream = secured
                } else {
                    stream = tcp
                }
                self.stream = stream
                driver.streamOpened()
                phase = .awaitingHead
                connectedMilliseconds = driver.loop.nowMilliseconds
                stream.delegate = self
                stream.startReading()
                stream.write(driver.requestBytes)
            case .failure(let error):
                guard phase == .connecting else { return }
                driver.attemptFailed(self, reason: error.name, retryable: true)
            }
        }
    }

    /// Marks the client for a retry or as given up; the driver decides which.
    func markRetrying() { phase = .retryWait }

    func markFailed() {
        phase = .failed
        stream?.close()
    }

    /// Closes the connection at teardown.
    func closeForTeardown() {
        if phase == .streaming || isInFlight { phase = .closed }
        stream?.close()
    }

    // MARK: TransportDelegate

    func transport(_ stream: any Transport, didRead bytes: UnsafeRawBufferPointer) {
        guard phase == .awaitingHead || phase == .streaming else { return }
        let completedHead: Bool
        do {
            completedHead = try decoder.feed(bytes) { body in
                commentCounter.feed(body)
                let parsed = parser.parse(body)
                events += parsed.count
                if !parsed.isEmpty, let sink = driver.eventSink { sink.client(self, received: parsed) }
            }
        } catch {
            failAttempt(reason: "bad response (\(error))", retryable: false)
            return
        }
        if completedHead, let head = decoder.head {
            status = head.status
            if head.status != 200 {
                // 503 means over capacity right now: worth a bounded retry. Anything else is final.
                failAttempt(reason: "status \(head.status)", retryable: head.status == 503)
                return
            }
            guard head.contentType.lowercased().hasPrefix("text/event-stream") else {
                failAttempt(reason: "content-type \(head.contentType.isEmpty ? "missing" : head.contentType)", retryable: false)
                return
            }
            phase = .streaming
            driver.clientOpened(self)
        }
        if decoder.isEnded && phase == .streaming {
            phase = .closedByServer
            driver.clientClosedByServer(self)
            stream.close()
        }
    }

    func transport(_ stream: any Transport, didEndReadingWith error: UVError?) {
        switch phase {
        case .awaitingHead:
            failAttempt(reason: error?.name ?? "EOF before head", retryable: true)
        case .streaming:
            phase = .closedByServer
            driver.clientClosedByServer(self)
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
            phase = .closedByServer
            driver.clientClosedByServer(self)
        }
    }

    /// The head did not arrive in time.
    func headTimedOut() {
        failAttempt(reason: "head timeout", retryable: true)
    }

    private func failAttempt(reason: String, retryable: Bool) {
        let stream = self.stream
        phase = .retryWait
        stream?.close()
        driver.attemptFailed(self, reason: reason, retryable: retryable)
    }
}
