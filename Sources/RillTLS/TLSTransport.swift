internal import COpenSSL
internal import CRillTLS
import RillCore

#if canImport(Glibc)
    import Glibc
#endif

/// TLS over another transport (a ``TCPStream``), driven on the loop as bytes arrive: no thread
/// of its own, no blocking handshake. The HTTP connection speaks to it exactly as to TCP.
/// Loop-confined, like every transport.
///
/// ```
///  inner transport ─ciphertext (lent)─► BIO ─► SSL_read ─► thread's plaintext buffer ─► delegate
///  delegate ─write─► SSL_write ─► BIO ─► thread's ciphertext buffer ─► inner write (try-write)
/// ```
///
/// Memory: ciphertext is read straight from the inner transport's buffer and written straight
/// to it; plaintext is decrypted into a buffer of the thread's; OpenSSL releases its record
/// buffers whenever they are empty (`SSL_MODE_RELEASE_BUFFERS`). An idle connection holds the
/// `SSL` object, its session and this object, no buffer.
///
/// Writes made before the handshake completed wait and leave after it; coalesced writes become
/// one `SSL_write` (one batch of records, one socket write). ``applicationProtocol`` is set
/// before the first plaintext byte reaches the delegate, which may change on any read (an
/// HTTP/2 connection taking over).
///
/// - Important: the transport is the inner transport's delegate, and each keeps the other until
///   the inner one closed: call ``close()`` or ``closeAfterFlush(lingering:)`` exactly when done,
///   as for TCP.
public final class TLSTransport: Transport, TransportDelegate, @unchecked Sendable {
    /// The loop the transport belongs to.
    public let loop: EventLoop
    /// The receiver of read (plaintext), drain and close notifications.
    public var delegate: (any TransportDelegate)?
    /// The transport the ciphertext travels over.
    public let inner: any Transport
    /// The application protocol ALPN selected (`"h2"`, `"http/1.1"`); nil before the handshake
    /// completed or when none was.
    public private(set) var applicationProtocol: String?

    // Stored properties in this order: words first, the small ones packed at the end — every
    // open TLS connection carries one of these.
    /// The `SSL *`; freed with the transport.
    private let connection: OpaquePointer
    /// The context's protocol list and role (kept for ``TLSContext/applicationProtocols``).
    private let context: TLSContext
    /// Plaintext written before the handshake completed; empty (no storage) after it.
    private var pendingPlaintext: [UInt8] = []
    /// Closes a handshake that has not completed in time; nil once it did.
    private var handshakeTimer: ScheduledTimer?
    /// Why the TLS layer failed (a protocol error, an alert), for ``writeError``.
    private var failure: UVError?
    /// Plaintext gathered between ``beginCoalescingWrites()`` and ``endCoalescingWrites()``.
    private var coalescer = WriteCoalescer()
    private let isServer: Bool
    private var handshakeStarted = false
    private var handshakeCompleted = false
    private var closing = false
    /// The peer's end of input (close_notify, or the inner transport's EOF) reached the
    /// delegate; nothing more is delivered.
    private var inputEnded = false

    /// The largest plaintext handed to one `SSL_write`: its records leave in one inner write,
    /// so the thread's ciphertext buffer stays about this size however large a write is.
    static let maxPlaintextBytesPerWrite = 64 * 1024

    /// Serves TLS on `inner`, an accepted connection: the client's ClientHello is awaited.
    ///
    /// - Parameters:
    ///   - inner: the accepted stream; the transport becomes its delegate.
    ///   - loop: the stream's loop (the current thread's).
    ///   - context: a server context.
    ///   - handshakeTimeout: how long the handshake may take before the connection is closed
    ///     (a client that connects and stalls); nil waits forever.
    /// - Returns: nil when OpenSSL could not make the connection (out of memory); `inner` is
    ///   untouched then.
    public convenience init?(serving inner: any Transport, loop: EventLoop, context: TLSContext, handshakeTimeout: Duration? = nil) {
        precondition(context.role == .server, "serving TLS needs a server context")
        self.init(inner: inner, loop: loop, context: context, serverName: nil, handshakeTimeout: handshakeTimeout)
    }

    /// Speaks TLS as the client on `inner`, a connected stream: the handshake starts with
    /// ``startReading()`` (or the first write).
    ///
    /// - Parameters:
    ///   - serverName: sent as SNI, and checked against the certificate when the context
    ///     verifies; nil sends none.
    public convenience init?(
        connectingOver inner: any Transport, loop: EventLoop, context: TLSContext, serverName: String? = nil,
        handshakeTimeout: Duration? = nil
    ) {
        precondition(context.role == .client, "connecting over TLS needs a client context")
        self.init(inner: inner, loop: loop, context: context, serverName: serverName, handshakeTimeout: handshakeTimeout)
    }

    private init?(inner: any Transport, loop: EventLoop, context: TLSContext, serverName: String?, handshakeTimeout: Duration?) {
        loop.preconditionInEventLoop()
        guard let connection = context.makeConnection() else { return nil }
        self.loop = loop
        self.inner = inner
        self.context = context
        self.connection = connection
        isServer = context.role == .server
        if isServer {
            SSL_set_accept_state(connection)
        } else {
            SSL_set_connect_state(connection)
            if let serverName {
                _ = rill_tls_set_server_name(connection, serverName)
                _ = SSL_set1_host(connection, serverName)
            }
        }
        inner.delegate = self
        if let handshakeTimeout {
            handshakeTimer = loop.schedule(after: handshakeTimeout) { [unowned self] in self.handshakeTimedOut() }
        }
    }

    deinit {
        handshakeTimer?.cancel()
        SSL_free(connection)
    }

    // MARK: Transport

    /// The peer's address, as the inner transport knows it.
    public var remoteAddress: SocketAddress? { inner.remoteAddress }

    /// Plaintext not encrypted yet (waiting for the handshake, or gathered) plus the inner
    /// transport's queued ciphertext.
    public var queuedBytes: Int { inner.queuedBytes + pendingPlaintext.count + coalescer.gatheredByteCount }

    /// Whether ``close()`` or ``closeAfterFlush(lingering:)`` was called, or the inner transport
    /// is closing.
    public var isClosing: Bool { closing || inner.isClosing }

    /// The inner transport's write error, else the TLS layer's (`EPROTO`).
    public var writeError: UVError? { inner.writeError ?? failure }

    /// Whether the handshake completed.
    public var isHandshakeComplete: Bool { handshakeCompleted }

    /// Starts (or resumes) delivering plaintext; a client starts its handshake.
    public func startReading() {
        inner.startReading()
        if !isServer { startClientHandshake() }
    }

    /// Pauses reading. What one read of the inner transport brought is still decrypted and
    /// delivered (as TCP delivers a whole read), so no ciphertext is held back.
    public func stopReading() { inner.stopReading() }

    /// Encrypts and sends `bytes` after everything written before.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        guard !isClosing, !bytes.isEmpty, !coalescer.gather(bytes) else { return }
        send(bytes)
    }

    /// Encrypts and sends `bytes` after everything written before.
    public func write(_ bytes: [UInt8]) {
        guard !isClosing, !bytes.isEmpty, !coalescer.gather(bytes) else { return }
        bytes.withUnsafeBytes { send($0) }
    }

    /// Gathers the writes that follow, until ``endCoalescingWrites()``, into one `SSL_write`.
    public func beginCoalescingWrites() { coalescer.begin() }

    /// Ends ``beginCoalescingWrites()``; the outermost end encrypts and sends what was gathered.
    public func endCoalescingWrites() {
        if let bytes = coalescer.end() { write(bytes) }
    }

    /// Encrypts and sends `bytes` now, or keeps them until the handshake completed.
    private func send(_ bytes: UnsafeRawBufferPointer) {
        if handshakeCompleted {
            encrypt(bytes)
        } else {
            pendingPlaintext.append(contentsOf: bytes)
            if !isServer { startClientHandshake() }
        }
    }

    /// Asks the inner transport for a drain notice, passed on to the delegate.
    public func notifyWhenQueuedBytes(atMost threshold: Int) {
        guard !isClosing else { return }
        inner.notifyWhenQueuedBytes(atMost: max(0, threshold - pendingPlaintext.count - coalescer.gatheredByteCount))
    }

    /// Sends what is gathered, then close_notify, then the inner transport flushes, shuts its
    /// write side down, lingers and closes.
    public func closeAfterFlush(lingering: Duration) {
        guard !isClosing else { return }
        if let bytes = coalescer.takeGathered() { bytes.withUnsafeBytes { send($0) } }
        // No close_notify after a fatal error: OpenSSL forbids SSL_shutdown then.
        if handshakeCompleted && failure == nil {
            ERR_clear_error()
            _ = SSL_shutdown(connection)
            flushCiphertext()
        }
        closing = true
        inner.closeAfterFlush(lingering: lingering)
    }

    /// Closes now; what is queued is dropped (no close_notify).
    public func close() {
        guard prepareClose() else { return }
        inner.close()
    }

    /// Closes now and resets the inner transport (no close_notify; see ``Transport/abort()``).
    public func abort() {
        guard prepareClose() else { return }
        inner.abort()
    }

    /// Marks the transport closing and stops the handshake timer; false if it already was.
    private func prepareClose() -> Bool {
        guard !isClosing else { return false }
        closing = true
        handshakeTimer?.cancel()
        handshakeTimer = nil
        return true
    }

    // MARK: The inner transport's events

    /// Ciphertext arrived: it feeds the handshake, then every record's plaintext goes to the
    /// delegate. The bytes are lent to OpenSSL for this call only.
    public func transport(_ transport: any Transport, didRead bytes: UnsafeRawBufferPointer) {
        guard !closing, !inputEnded, let base = bytes.baseAddress else { return }
        rill_tls_lend_input(connection, base, bytes.count)
        defer { rill_tls_lend_input(connection, nil, 0) }
        if !handshakeCompleted {
            guard advanceHandshake() else { return }
        }
        readPlaintext()
    }

    /// The peer closed its side (without close_notify: most HTTP clients just close) or the
    /// read failed. During the handshake the connection simply closes.
    public func transport(_ transport: any Transport, didEndReadingWith error: UVError?) {
        guard !inputEnded, !closing else { return }
        guard handshakeCompleted else {
            close()
            return
        }
        inputEnded = true
        delegate?.transport(self, didEndReadingWith: error)
    }

    /// The inner transport drained to the threshold.
    public func transportDidDrain(_ transport: any Transport) {
        delegate?.transportDidDrain(self)
    }

    /// The inner transport closed: so does this one.
    public func transportDidClose(_ transport: any Transport) {
        closing = true
        handshakeTimer?.cancel()
        handshakeTimer = nil
        let delegate = self.delegate
        self.delegate = nil
        delegate?.transportDidClose(self)
    }

    // MARK: Driving OpenSSL

    private func startClientHandshake() {
        guard !handshakeStarted, !isClosing else { return }
        handshakeStarted = true
        _ = advanceHandshake()
    }

    /// Runs the handshake on what arrived; true once it completed. A failed handshake (not TLS,
    /// an unsupported version, no common cipher) closes the connection without a word to the
    /// delegate beyond the close.
    private func advanceHandshake() -> Bool {
        handshakeStarted = true
        ERR_clear_error()
        let result = SSL_do_handshake(connection)
        flushCiphertext()
        if result == 1 {
            completeHandshake()
            return !isClosing
        }
        switch SSL_get_error(connection, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return false
        default:
            // The alert OpenSSL wrote (if any) left with flushCiphertext; the peer's further
            // bytes are read and dropped for a moment so that it is not lost to a reset.
            fail("TLS handshake")
            closing = true
            handshakeTimer?.cancel()
            handshakeTimer = nil
            inner.closeAfterFlush(lingering: .milliseconds(500))
            return false
        }
    }

    private func completeHandshake() {
        handshakeCompleted = true
        handshakeTimer?.cancel()
        handshakeTimer = nil
        var name: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(connection, &name, &length)
        if let name, length > 0 {
            applicationProtocol = String(decoding: UnsafeBufferPointer(start: name, count: Int(length)), as: UTF8.self)
        }
        if !pendingPlaintext.isEmpty {
            let bytes = pendingPlaintext
            pendingPlaintext = []
            bytes.withUnsafeBytes { encrypt($0) }
        }
    }

    /// Decrypts every complete record of the lent input, one `SSL_read` each, and hands the
    /// plaintext over.
    private func readPlaintext() {
        guard let buffers = rill_tls_buffers() else {
            fail("TLS read (out of memory)")
            inner.close()
            return
        }
        let plaintext = rill_tls_plaintext(buffers)
        while !closing && !inner.isClosing {
            ERR_clear_error()
            let count = SSL_read(connection, plaintext, RILL_TLS_PLAINTEXT_BYTES)
            flushCiphertext()  // TLS 1.3 may answer (a key update)
            if count > 0 {
                delegate?.transport(self, didRead: UnsafeRawBufferPointer(start: plaintext, count: Int(count)))
                continue
            }
            switch SSL_get_error(connection, count) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return
            case SSL_ERROR_ZERO_RETURN:
                // close_notify: the peer finished sending.
                inputEnded = true
                delegate?.transport(self, didEndReadingWith: nil)
                return
            default:
                inputEnded = true
                let error = fail("TLS read")
                delegate?.transport(self, didEndReadingWith: error)
                if !isClosing { close() }
                return
            }
        }
    }

    /// Encrypts `bytes` in slices of ``maxPlaintextBytesPerWrite``, each slice's records in one
    /// inner write.
    private func encrypt(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count && !isClosing {
            let count = min(bytes.count - offset, Self.maxPlaintextBytesPerWrite)
            ERR_clear_error()
            let written = SSL_write(connection, bytes.baseAddress! + offset, Int32(count))
            flushCiphertext()
            if written > 0 {
                offset += Int(written)
                continue
            }
            // The BIO takes every byte and the handshake is done: only a broken connection
            // refuses a write.
            fail("TLS write")
            inner.close()
            return
        }
    }

    /// Hands what the last OpenSSL call wrote to the thread's ciphertext buffer to the inner
    /// transport (one write; it copies only what the kernel does not take at once).
    private func flushCiphertext() {
        guard let buffers = rill_tls_buffers(), buffers.pointee.ciphertextCount > 0 else { return }
        inner.write(UnsafeRawBufferPointer(start: buffers.pointee.ciphertext, count: buffers.pointee.ciphertextCount))
        rill_tls_reset_ciphertext(buffers)
    }

    /// Keeps the first TLS failure (OpenSSL's reason in the message) and returns it.
    @discardableResult
    private func fail(_ operation: String) -> UVError {
        let reason = openSSLErrors()
        let error = UVError(-EPROTO, reason.isEmpty ? operation : "\(operation): \(reason)")
        if failure == nil { failure = error }
        return error
    }

    private func handshakeTimedOut() {
        handshakeTimer = nil
        guard !handshakeCompleted, !isClosing else { return }
        // Not a write error: the server counts ETIMEDOUT write errors as write timeouts.
        close()
    }
}
