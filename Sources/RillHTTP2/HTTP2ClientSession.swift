internal import CNGHTTP2
package import HTTPTypes

/// The client side of one HTTP/2 connection on bytes: nghttp2's framing, HPACK and flow
/// control, with no socket. Requests go in through
/// ``submitRequest(method:path:authority:scheme:headers:)``; bytes from the server go in
/// through ``receive(_:)``; what the session has to send (the connection preface, SETTINGS,
/// HEADERS, acknowledgements, `WINDOW_UPDATE`) leaves through the delegate's
/// ``HTTP2ClientSessionDelegate/session(_:write:)`` when ``send()`` runs. Loop-confined.
///
/// Response bodies are acknowledged as they are handed to the delegate (nghttp2's automatic
/// window update): the delegate takes every DATA chunk at once, so the server's windows only
/// close while the client does not read its socket.
///
/// ```swift
/// let session = HTTP2ClientSession()
/// session.delegate = connection
/// let streamID = session.submitRequest(method: "GET", path: "/stream", authority: "localhost", scheme: "http")
/// session.send()  // the preface, SETTINGS and the request's HEADERS
/// ```
package final class HTTP2ClientSession {
    private var session: OpaquePointer?
    /// The receiver of response heads, data and stream ends; unowned: the connection owns the
    /// session.
    package unowned(unsafe) var delegate: (any HTTP2ClientSessionDelegate)?
    /// Response heads being received, by stream.
    private var partialHeads: [Int32: HTTP2ResponseHead] = [:]
    /// Streams whose final (non-1xx) head was delivered: a later HEADERS frame is trailers.
    private var answeredStreams: Set<Int32> = []
    /// Why the session ended, once it did: a protocol error of the server's, or of this side's
    /// use of the session.
    package private(set) var failure: HTTP2SessionFailure?
    /// The server sent `GOAWAY`: no stream may be opened any more (nghttp2 would take the
    /// request and only refuse it when sending).
    package private(set) var goAwayReceived = false
    /// ``terminate(_:)`` was called: the session ends by this side's choice.
    private var terminatedLocally = false

    /// Creates a client session; its connection preface and SETTINGS frame are queued (sent by
    /// the first ``send()``).
    ///
    /// - Parameters:
    ///   - initialStreamWindowBytes: `SETTINGS_INITIAL_WINDOW_SIZE`: response body bytes the
    ///     server may send on a stream before the client acknowledges them.
    ///   - connectionWindowBytes: the same for all streams together (the connection's window,
    ///     raised from the protocol's 65,535 by a `WINDOW_UPDATE` on stream 0), so that many
    ///     streams of one connection do not wait on each other's acknowledgements.
    package init(initialStreamWindowBytes: Int = 65_535, connectionWindowBytes: Int = 16 << 20) {
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_send_callback(callbacks, Self.sendCallback)
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, Self.beginHeadersCallback)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, Self.headerCallback)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, Self.frameReceivedCallback)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, Self.dataChunkCallback)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, Self.streamCloseCallback)

        var option: OpaquePointer?
        nghttp2_option_new(&option)
        defer { nghttp2_option_del(option) }
        // Closed streams are forgotten at once (no priority tree to keep them for).
        nghttp2_option_set_no_closed_streams(option, 1)

        var created: OpaquePointer?
        nghttp2_session_client_new2(&created, callbacks, Unmanaged.passUnretained(self).toOpaque(), option)
        session = created

        var settings = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: UInt32(clamping: initialStreamWindowBytes)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES.rawValue), value: 1),
        ]
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
        if connectionWindowBytes > 65_535 {
            nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, Int32(clamping: connectionWindowBytes))
        }
    }

    deinit {
        if let session { nghttp2_session_del(session) }
    }

    // MARK: Input and output

    /// Takes bytes the server sent; heads, data, stream ends and `GOAWAY` reach the delegate
    /// from inside. Returns false when the session failed (a protocol error of the server's):
    /// ``failure`` says why; ``send()`` then sends a `GOAWAY`, and the connection should close.
    @discardableResult
    package func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let session, failure == nil, let base = bytes.baseAddress else { return failure == nil }
        let result = nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        if result < 0 {
            failure = .protocolError(String(cString: nghttp2_strerror(Int32(result))))
            nghttp2_session_terminate_session(session, HTTP2ErrorCode.protocolError.rawValue)
            return false
        }
        return true
    }

    /// Sends what the session has queued (the preface, frames, acknowledgements) through the
    /// delegate. Returns false when the session failed: while sending, or because a frame the
    /// server sent broke the protocol (nghttp2 answers such a connection error itself, with
    /// the `GOAWAY` this call sent, and reads no more).
    @discardableResult
    package func send() -> Bool {
        guard let session else { return false }
        if let reason = NGHTTP2SessionIO.send(session) {
            if failure == nil { failure = .protocolError(reason) }
            return false
        }
        if failure == nil && !goAwayReceived && !terminatedLocally && nghttp2_session_want_read(session) == 0 {
            failure = .protocolError("the server broke the protocol (GOAWAY sent)")
        }
        return failure == nil
    }

    /// Whether the session still wants to read or has something to write; when neither, the
    /// connection is done (after a `GOAWAY` both ways, or a fatal error).
    package var isFinished: Bool { NGHTTP2SessionIO.isFinished(session) }

    /// Whether the session has frames to send.
    package var wantsToWrite: Bool { NGHTTP2SessionIO.wantsToWrite(session) }

    // MARK: Requests

    /// Queues a request without a body (`END_STREAM` on its HEADERS), sent by the next
    /// ``send()`` — or later, while the server's `SETTINGS_MAX_CONCURRENT_STREAMS` streams are
    /// open. Connection-specific fields are left out (HTTP/2 forbids them); names are
    /// lowercased.
    ///
    /// - Returns: the new stream's id, or nil when no stream can be opened: after `GOAWAY`,
    ///   after a failure, or once the stream ids ran out.
    package func submitRequest(
        method: String, path: String, authority: String, scheme: String, headers: [(name: String, value: String)] = []
    ) -> Int32? {
        guard let session, failure == nil, !goAwayReceived else { return nil }
        var block = HTTP2HeaderBlock(reservingCapacity: headers.count + 4)
        block.add(":method".utf8, method.utf8)
        block.add(":scheme".utf8, scheme.utf8)
        block.add(":authority".utf8, authority.utf8)
        block.add(":path".utf8, path.utf8)
        for (name, value) in headers where !HTTP2Session.isConnectionSpecific(name) {
            block.add(name.lowercased().utf8, value.utf8)
        }
        let streamID = block.withEntries { fields, count in
            nghttp2_submit_request(session, nil, fields, count, nil, nil)
        }
        return streamID > 0 ? streamID : nil
    }

    /// Resets `streamID` with `error` (`CANCEL`: the response is no longer wanted).
    package func resetStream(_ streamID: Int32, error: HTTP2ErrorCode) {
        guard let session else { return }
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, error.rawValue)
    }

    /// Ends the session with `GOAWAY` carrying `error` (sent by the next ``send()``).
    package func terminate(_ error: HTTP2ErrorCode) {
        guard let session else { return }
        terminatedLocally = true
        nghttp2_session_terminate_session(session, error.rawValue)
    }

    // MARK: Callbacks (C)

    private static func session(_ userData: UnsafeMutableRawPointer?) -> HTTP2ClientSession {
        Unmanaged<HTTP2ClientSession>.fromOpaque(userData!).takeUnretainedValue()
    }

    private static let sendCallback: nghttp2_send_callback = { _, data, length, _, userData in
        let session = HTTP2ClientSession.session(userData)
        session.delegate?.session(session, write: UnsafeRawBufferPointer(start: data, count: length))
        return length
    }

    private static let beginHeadersCallback: nghttp2_on_begin_headers_callback = { _, frame, userData in
        guard let frame, rill_h2_frame_type(frame) == UInt8(NGHTTP2_HEADERS.rawValue) else { return 0 }
        let session = HTTP2ClientSession.session(userData)
        let streamID = rill_h2_frame_stream_id(frame)
        // A response head, or the final head after 1xx ones; never trailers.
        let category = rill_h2_headers_category(frame)
        guard category == Int32(NGHTTP2_HCAT_RESPONSE.rawValue) || category == Int32(NGHTTP2_HCAT_HEADERS.rawValue),
            !session.answeredStreams.contains(streamID)
        else { return 0 }
        session.partialHeads[streamID] = HTTP2ResponseHead()
        return 0
    }

    private static let headerCallback: nghttp2_on_header_callback = { _, frame, name, nameLength, value, valueLength, _, userData in
        guard let frame, let name, let value else { return 0 }
        let session = HTTP2ClientSession.session(userData)
        let streamID = rill_h2_frame_stream_id(frame)
        guard session.partialHeads[streamID] != nil else { return 0 }
        session.partialHeads[streamID]!.add(
            name: UnsafeRawBufferPointer(start: name, count: nameLength), value: UnsafeRawBufferPointer(start: value, count: valueLength))
        return 0
    }

    private static let frameReceivedCallback: nghttp2_on_frame_recv_callback = { _, frame, userData in
        guard let frame else { return 0 }
        let session = HTTP2ClientSession.session(userData)
        let streamID = rill_h2_frame_stream_id(frame)
        switch UInt32(rill_h2_frame_type(frame)) {
        case NGHTTP2_HEADERS.rawValue:
            guard let head = session.partialHeads.removeValue(forKey: streamID), !(100..<200).contains(head.status) else { return 0 }
            session.answeredStreams.insert(streamID)
            let endStream = rill_h2_frame_flags(frame) & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
            session.delegate?.session(session, didReceive: head, on: streamID, endStream: endStream)
        case NGHTTP2_GOAWAY.rawValue:
            session.goAwayReceived = true
            session.delegate?.session(
                session, didReceiveGoAwayWith: HTTP2ErrorCode(rawValue: rill_h2_goaway_error_code(frame)),
                lastStreamID: rill_h2_goaway_last_stream_id(frame))
        default:
            break
        }
        return 0
    }

    private static let dataChunkCallback: nghttp2_on_data_chunk_recv_callback = { _, _, streamID, data, length, userData in
        guard let data else { return 0 }
        let session = HTTP2ClientSession.session(userData)
        session.delegate?.session(session, didReceiveData: UnsafeRawBufferPointer(start: data, count: length), on: streamID)
        return 0
    }

    private static let streamCloseCallback: nghttp2_on_stream_close_callback = { _, streamID, errorCode, userData in
        let session = HTTP2ClientSession.session(userData)
        session.partialHeads[streamID] = nil
        session.answeredStreams.remove(streamID)
        session.delegate?.session(session, didCloseStream: streamID, error: HTTP2ErrorCode(rawValue: errorCode))
        return 0
    }
}
