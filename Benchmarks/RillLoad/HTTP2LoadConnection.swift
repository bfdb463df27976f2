import HTTPTypes
import RillCore
import RillHTTP2

/// One HTTP/2 connection of the harness (`--h2`): a TCP stream, or TLS over it (ALPN `h2`),
/// or cleartext with prior knowledge, carrying up to `--streams-per-connection` SSE streams,
/// each an ``SSEClient``. The connection opens when its first stream asks for it, sends each
/// stream's GET as the stream starts, and hands every response head, DATA chunk and stream end
/// to the stream's client. Loop-confined.
final class HTTP2LoadConnection: TransportDelegate, HTTP2ClientSessionDelegate {
    /// Where the connection is.
    enum State {
        /// Not connected (not yet, or lost: the next stream that asks connects again).
        case idle
        case connecting
        /// Connected: requests go out at once.
        case ready
        /// Closed at teardown: no stream may ask any more.
        case closed
    }

    /// The connection's number: it takes the source address of that number.
    let index: Int
    unowned let driver: LoadDriver
    private(set) var state = State.idle
    private var transport: (any Transport)?
    private var session: HTTP2ClientSession?
    /// Streams that asked while the connection was connecting.
    private var waiting: [SSEClient] = []
    /// The streams whose request went out, by stream id.
    private var streams: [Int32: SSEClient] = [:]
    /// The server sent `GOAWAY`: no new stream on this connection.
    private var goingAway = false
    /// Whether the TLS transport's negotiated protocol was checked (once, on the first read).
    private var protocolChecked = false
    /// Inside ``HTTP2ClientSession/receive(_:)``: frames queued meanwhile are sent after it
    /// returns (nghttp2 must not send from its own callbacks).
    private var isReceiving = false
    /// The request's fields beyond the pseudo-header ones (as HTTP/1.1's GET sends them).
    private static let requestFields: [(name: String, value: String)] = [
        ("accept", "text/event-stream"), ("cache-control", "no-cache"), ("user-agent", "rill-load"),
    ]

    init(index: Int, driver: LoadDriver) {
        self.index = index
        self.driver = driver
    }

    /// Streams of this connection whose request went out and that have not closed.
    var openStreamCount: Int { streams.count }

    /// Starts `client`'s attempt: its request goes out now, or once the connection is up.
    func open(_ client: SSEClient) {
        switch state {
        case .ready where !goingAway:
            submit(client)
            flush()
        case .ready:
            client.http2AttemptFailed(reason: "GOAWAY", retryable: true)
        case .connecting:
            waiting.append(client)
        case .idle:
            waiting.append(client)
            connect()
        case .closed:
            client.http2AttemptFailed(reason: "closed", retryable: false)
        }
    }

    /// Resets `streamID` (the client gave up on it): `RST_STREAM` `CANCEL`.
    func cancel(_ streamID: Int32) {
        guard streams.removeValue(forKey: streamID) != nil, let session else { return }
        session.resetStream(streamID, error: .cancel)
        if !isReceiving { flush() }
    }

    /// Closes the connection at teardown.
    func closeForTeardown() {
        state = .closed
        streams = [:]
        waiting = []
        transport?.close()
    }

    private func connect() {
        state = .connecting
        goingAway = false
        protocolChecked = false
        // Closed for teardown while connecting: the late connection is dropped.
        driver.connectTransport(for: index, isWanted: { [self] in state == .connecting }) { [self] result in
            switch result {
            case .success(let transport):
                self.transport = transport
                driver.streamOpened()
                let session = HTTP2ClientSession()
                session.delegate = self
                self.session = session
                state = .ready
                transport.delegate = self
                transport.startReading()
                let clients = waiting
                waiting = []
                for client in clients { submit(client) }
                // The preface, SETTINGS and every waiting request's HEADERS, in one write (TLS
                // buffers them until its handshake completes).
                flush()
            case .failure(let failure):
                guard state == .connecting else { return }
                failWaiting(reason: failure.reason, retryable: failure.isRetryable)
            }
        }
    }

    /// The connection did not come up: every stream that waited for it fails its attempt.
    private func failWaiting(reason: String, retryable: Bool) {
        state = .idle
        let clients = waiting
        waiting = []
        for client in clients { client.http2AttemptFailed(reason: reason, retryable: retryable) }
    }

    private func submit(_ client: SSEClient) {
        // Given up while the connection was connecting (the ramp's deadline).
        guard client.phase == .connecting else { return }
        let target = driver.target
        guard
            let session,
            let streamID = session.submitRequest(
                method: "GET", path: target.target, authority: target.authority, scheme: target.isTLS || driver.tls != nil ? "https" : "http",
                headers: Self.requestFields)
        else {
            client.http2AttemptFailed(reason: "no stream", retryable: true)
            return
        }
        streams[streamID] = client
        client.http2StreamStarted(on: self, streamID: streamID)
    }

    /// Sends what the session has queued, in one transport write where it can.
    private func flush() {
        guard let transport, let session, session.wantsToWrite else { return }
        transport.beginCoalescingWrites()
        session.send()
        transport.endCoalescingWrites()
    }

    /// The connection is gone: every stream on it ends (a stream still waiting for its head
    /// fails its attempt and may retry on a new connection).
    private func lost(reason: String) {
        let orphans = streams
        streams = [:]
        session = nil
        if state != .closed { state = .idle }
        for (_, client) in orphans.sorted(by: { $0.key < $1.key }) { client.http2StreamClosed(reason: reason) }
    }

    // MARK: TransportDelegate

    func transport(_ transport: any Transport, didRead bytes: UnsafeRawBufferPointer) {
        guard transport === self.transport, let session, state == .ready else { return }
        if !protocolChecked {
            protocolChecked = true
            if driver.tls != nil, transport.applicationProtocol != "h2" {
                lost(reason: "ALPN \(transport.applicationProtocol ?? "none"), not h2")
                transport.close()
                return
            }
        }
        isReceiving = true
        let accepted = session.receive(bytes)
        isReceiving = false
        flush()
        // A protocol error (either side's GOAWAY went out), or the server's GOAWAY with no
        // stream left: the connection is done.
        if !accepted || session.failure != nil || session.isFinished {
            lost(reason: session.failure.map { "HTTP/2 \($0)" } ?? "GOAWAY")
            transport.closeAfterFlush(lingering: .milliseconds(100))
        }
    }

    func transport(_ transport: any Transport, didEndReadingWith error: UVError?) {
        if transport === self.transport { lost(reason: error?.name ?? "EOF") }
        transport.close()
    }

    func transportDidDrain(_ transport: any Transport) {}

    func transportDidClose(_ transport: any Transport) {
        driver.streamClosed()
        // A connection lost before may already have been replaced: only the current one ends
        // the streams.
        guard self.transport === transport else { return }
        self.transport = nil
        lost(reason: "closed")
    }

    // MARK: HTTP2ClientSessionDelegate

    func session(_ session: HTTP2ClientSession, write bytes: UnsafeRawBufferPointer) {
        transport?.write(bytes)
    }

    func session(_ session: HTTP2ClientSession, didReceive head: HTTP2ResponseHead, on streamID: Int32, endStream: Bool) {
        guard let client = streams[streamID] else { return }
        if endStream { streams[streamID] = nil }
        client.http2HeadArrived(status: head.status, contentType: head.value(of: "content-type") ?? "", endStream: endStream)
    }

    func session(_ session: HTTP2ClientSession, didReceiveData bytes: UnsafeRawBufferPointer, on streamID: Int32) {
        streams[streamID]?.http2DataArrived(bytes)
    }

    func session(_ session: HTTP2ClientSession, didCloseStream streamID: Int32, error: HTTP2ErrorCode) {
        guard let client = streams.removeValue(forKey: streamID) else { return }
        client.http2StreamClosed(reason: error == .noError ? "stream ended" : "RST_STREAM \(error.rawValue)")
    }

    func session(_ session: HTTP2ClientSession, didReceiveGoAwayWith error: HTTP2ErrorCode, lastStreamID: Int32) {
        goingAway = true
    }
}
