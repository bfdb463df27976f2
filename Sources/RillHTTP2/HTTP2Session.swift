internal import CNGHTTP2
package import HTTPTypes

/// The server side of one HTTP/2 connection on bytes: nghttp2's framing, HPACK, flow control
/// and protocol checks, with no socket. Bytes from the client go in through ``receive(_:)``;
/// what the session has to send leaves through the delegate's
/// ``HTTP2SessionDelegate/session(_:write:)`` when ``send()`` runs. Loop-confined.
///
/// Only this module imports nghttp2: requests come out as ``HTTP2RequestHead`` values,
/// responses go in as HTTPTypes values, and a response body is pulled from the delegate
/// (``HTTP2SessionDelegate/session(_:fillDataFor:into:)``) as the client's flow-control windows
/// allow — so a stream whose window is exhausted simply keeps its bytes, and the others go on.
package final class HTTP2Session {
    private var session: OpaquePointer?
    /// The receiver of requests, data and stream ends; unowned: the connection owns the session.
    package unowned(unsafe) var delegate: (any HTTP2SessionDelegate)?
    private let limits: HTTP2SessionLimits
    /// Header blocks being received, by stream: the request heads not yet complete.
    private var partialHeads: [Int32: PartialHead] = [:]
    /// PING and SETTINGS frames received in the current second (see
    /// ``HTTP2SessionLimits/maxPingAndSettingsFramesPerSecond``).
    private var controlFrameCount = 0
    private var controlFrameWindowStart: UInt64 = 0
    /// The rapid-reset token bucket: `RST_STREAM` frames the client may still send, and when it
    /// was last refilled.
    private var resetTokens: Double
    private var resetTokensRefilledAt: UInt64 = 0
    /// The clock for the control-frame budget, in milliseconds (the loop's).
    package var nowMilliseconds: () -> UInt64 = { 0 }
    /// Why the session ended, once it did: a protocol error of the client's, a flood.
    package private(set) var failure: HTTP2SessionFailure?

    /// A request head while its HEADERS and CONTINUATION frames arrive.
    private struct PartialHead {
        var head = HTTP2RequestHead()
        var headerBytes = 0
        var tooLarge = false
    }

    /// Creates a server session with `limits`; its SETTINGS frame is queued (sent by the first
    /// ``send()``).
    package init(limits: HTTP2SessionLimits) {
        self.limits = limits
        resetTokens = Double(limits.maxResetStreamBurst)
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_send_callback(callbacks, Self.sendCallback)
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, Self.beginHeadersCallback)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, Self.headerCallback)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, Self.frameReceivedCallback)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, Self.dataChunkCallback)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, Self.streamCloseCallback)
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, Self.frameSentCallback)

        var option: OpaquePointer?
        nghttp2_option_new(&option)
        defer { nghttp2_option_del(option) }
        // Request bodies are acknowledged (WINDOW_UPDATE) as the connection takes them, not as
        // they arrive: the client can never have more in flight than the windows allow.
        nghttp2_option_set_no_auto_window_update(option, 1)
        nghttp2_option_set_max_outbound_ack(option, limits.maxQueuedControlFrames)
        // nghttp2's own rapid-reset bucket (it answers with INTERNAL_ERROR, and counts on its own
        // clock) stays as a backstop at twice the session's, which answers ENHANCE_YOUR_CALM.
        nghttp2_option_set_stream_reset_rate_limit(
            option, UInt64(2 * limits.maxResetStreamBurst + 1), UInt64(2 * limits.maxResetStreamsPerSecond + 1))
        nghttp2_option_set_max_continuations(option, limits.maxContinuationFrames)
        // Closed streams are forgotten at once (no priority tree to keep them for).
        nghttp2_option_set_no_closed_streams(option, 1)
        nghttp2_option_set_max_send_header_block_length(option, 64 * 1024)

        var created: OpaquePointer?
        nghttp2_session_server_new2(&created, callbacks, Unmanaged.passUnretained(self).toOpaque(), option)
        session = created

        var settings = [
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: UInt32(clamping: limits.maxConcurrentStreams)),
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: UInt32(clamping: limits.initialStreamWindowBytes)),
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: UInt32(clamping: limits.maxHeaderListBytes)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES.rawValue), value: 1),
        ]
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
    }

    deinit {
        if let session { nghttp2_session_del(session) }
    }

    // MARK: Input and output

    /// Takes bytes the client sent; requests, data and stream ends reach the delegate from
    /// inside. Returns false when the session failed (a protocol error, a flood): ``failure``
    /// says why; ``send()`` then sends its `GOAWAY`, and the connection closes.
    @discardableResult
    package func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let session, failure == nil, let base = bytes.baseAddress else { return failure == nil }
        let result = nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        if result < 0 {
            // A fatal error: nghttp2 queued nothing, so the session says why with a GOAWAY of
            // its own before the connection closes.
            let code = Int32(result)
            let reason = String(cString: nghttp2_strerror(code))
            let isFlood = code == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS.rawValue || code == NGHTTP2_ERR_FLOODED.rawValue
            if failure == nil { failure = isFlood ? .flood(reason) : .protocolError(reason) }
            nghttp2_session_terminate_session(
                session, isFlood ? HTTP2ErrorCode.enhanceYourCalm.rawValue : HTTP2ErrorCode.protocolError.rawValue)
            return false
        }
        return failure == nil
    }

    /// Sends what the session has queued (frames, and response data as the windows allow)
    /// through the delegate. Returns false when the session failed while sending.
    @discardableResult
    package func send() -> Bool {
        guard let session else { return false }
        if let reason = NGHTTP2SessionIO.send(session) {
            if failure == nil { failure = .protocolError(reason) }
            return false
        }
        return true
    }

    /// Whether the session still wants to read or has something to write; when neither, the
    /// connection is done (after a `GOAWAY` both ways, or a fatal error).
    package var isFinished: Bool { NGHTTP2SessionIO.isFinished(session) }

    /// Whether the session has frames to send.
    package var wantsToWrite: Bool { NGHTTP2SessionIO.wantsToWrite(session) }

    // MARK: Responses

    /// Queues the response head of `streamID`. With `hasBody`, DATA frames follow as the
    /// delegate fills them (``resumeData(of:)`` after new bytes); without, the stream ends with
    /// the head. Connection-specific fields (`Connection`, `Transfer-Encoding`, `Keep-Alive`,
    /// `Upgrade`, `Proxy-Connection`) are left out: HTTP/2 forbids them.
    package func submitResponse(streamID: Int32, status: Int, headerFields: [(name: String, value: String)], hasBody: Bool) {
        guard let session else { return }
        var block = HTTP2HeaderBlock(reservingCapacity: headerFields.count + 1)
        block.add(":status".utf8, String(status).utf8)
        for (name, value) in headerFields where !Self.isConnectionSpecific(name) {
            block.add(name.lowercased().utf8, value.utf8)
        }
        block.withEntries { fields, count in
            if hasBody {
                var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: Self.dataSourceCallback)
                nghttp2_submit_response(session, streamID, fields, count, &provider)
            } else {
                nghttp2_submit_response(session, streamID, fields, count, nil)
            }
        }
    }

    /// Queues an informational (1xx) response head on `streamID`, before its final response:
    /// `100` for a client that waits for `100 Continue` before sending its body.
    package func submitInformationalResponse(streamID: Int32, status: Int) {
        guard let session else { return }
        var block = HTTP2HeaderBlock(reservingCapacity: 1)
        block.add(":status".utf8, String(status).utf8)
        block.withEntries { fields, count in
            _ = nghttp2_submit_headers(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, nil, fields, count, nil)
        }
    }

    /// New bytes wait for `streamID`: DATA frames resume (after the delegate had none).
    package func resumeData(of streamID: Int32) {
        guard let session else { return }
        nghttp2_session_resume_data(session, streamID)
    }

    /// Resets `streamID` with `error`.
    package func resetStream(_ streamID: Int32, error: HTTP2ErrorCode) {
        guard let session else { return }
        partialHeads[streamID] = nil
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, error.rawValue)
    }

    /// The connection took `count` bytes of a request body on `streamID`: the client may send
    /// that many more (`WINDOW_UPDATE`, for the stream and the connection).
    package func consume(_ count: Int, on streamID: Int32) {
        guard let session, count > 0 else { return }
        nghttp2_session_consume(session, streamID, count)
    }

    /// Graceful shutdown: a `GOAWAY` telling the client that no stream after the last one it
    /// opened will be processed; the open streams finish.
    package func goAway() {
        guard let session else { return }
        nghttp2_submit_goaway(
            session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nghttp2_session_get_last_proc_stream_id(session),
            HTTP2ErrorCode.noError.rawValue, nil, 0)
    }

    /// The first step of a graceful shutdown (RFC 9113 §6.8): a `GOAWAY` with the largest
    /// stream id, telling the client to open no new stream while the open ones go on; a
    /// ``goAway()`` follows.
    package func noticeShutdown() {
        guard let session else { return }
        nghttp2_submit_shutdown_notice(session)
    }

    /// Ends the session with `GOAWAY` carrying `error` (sent by the next ``send()``).
    package func terminate(_ error: HTTP2ErrorCode) {
        guard let session else { return }
        nghttp2_session_terminate_session(session, error.rawValue)
    }

    /// Whether `name` is a connection-specific field (forbidden in HTTP/2, RFC 9113 §8.2.2).
    static func isConnectionSpecific(_ name: String) -> Bool {
        switch name.lowercased() {
        case "connection", "transfer-encoding", "keep-alive", "upgrade", "proxy-connection": true
        default: false
        }
    }

    // MARK: Callbacks (C)

    private static func session(_ userData: UnsafeMutableRawPointer?) -> HTTP2Session {
        Unmanaged<HTTP2Session>.fromOpaque(userData!).takeUnretainedValue()
    }

    private static let sendCallback: nghttp2_send_callback = { _, data, length, _, userData in
        let session = HTTP2Session.session(userData)
        guard let delegate = session.delegate else { return length }
        // Would block: nghttp2 keeps the frame, stops producing and returns from send().
        return delegate.session(session, write: UnsafeRawBufferPointer(start: data, count: length))
            ? length : Int(NGHTTP2_ERR_WOULDBLOCK.rawValue)
    }

    private static let beginHeadersCallback: nghttp2_on_begin_headers_callback = { _, frame, userData in
        guard let frame, rill_h2_frame_type(frame) == UInt8(NGHTTP2_HEADERS.rawValue),
            rill_h2_headers_category(frame) == Int32(NGHTTP2_HCAT_REQUEST.rawValue)
        else { return 0 }
        let session = HTTP2Session.session(userData)
        session.partialHeads[rill_h2_frame_stream_id(frame)] = PartialHead()
        return 0
    }

    private static let headerCallback: nghttp2_on_header_callback = { _, frame, name, nameLength, value, valueLength, _, userData in
        guard let frame, let name, let value else { return 0 }
        let session = HTTP2Session.session(userData)
        let streamID = rill_h2_frame_stream_id(frame)
        guard var partial = session.partialHeads[streamID] else { return 0 }
        // The same count as HTTP/1.1's head limit and SETTINGS_MAX_HEADER_LIST_SIZE: name,
        // value and 32 bytes each (RFC 9113 §6.5.2).
        partial.headerBytes += nameLength + valueLength + 32
        if partial.headerBytes > session.limits.maxHeaderListBytes {
            partial.tooLarge = true
            // An HPACK bomb: a few bytes on the wire naming a large dynamic-table entry again
            // and again. nghttp2 checks every decoded value before this callback, so each
            // reference costs the loop a pass over the entry; past the bound the connection
            // ends instead of decoding on (a client that sends this much is not honest).
            if partial.headerBytes > HTTP2SessionLimits.headerListBombFactor * session.limits.maxHeaderListBytes {
                session.partialHeads[streamID] = nil
                if session.failure == nil {
                    session.failure = .flood(
                        "a header list decoding to more than \(HTTP2SessionLimits.headerListBombFactor) × \(session.limits.maxHeaderListBytes) bytes")
                }
                nghttp2_session_terminate_session(session.session, HTTP2ErrorCode.enhanceYourCalm.rawValue)
                return Int32(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
            }
        } else if !partial.tooLarge {
            partial.head.add(
                name: UnsafeRawBufferPointer(start: name, count: nameLength),
                value: UnsafeRawBufferPointer(start: value, count: valueLength))
        }
        session.partialHeads[streamID] = partial
        return 0
    }

    private static let frameReceivedCallback: nghttp2_on_frame_recv_callback = { _, frame, userData in
        guard let frame else { return 0 }
        let session = HTTP2Session.session(userData)
        let type = rill_h2_frame_type(frame)
        let flags = rill_h2_frame_flags(frame)
        let streamID = rill_h2_frame_stream_id(frame)
        let endStream = flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        switch UInt32(type) {
        case NGHTTP2_HEADERS.rawValue:
            if let partial = session.partialHeads.removeValue(forKey: streamID) {
                if partial.tooLarge {
                    session.delegate?.session(session, headersTooLargeOn: streamID)
                } else {
                    var head = partial.head
                    head.byteCount = partial.headerBytes
                    session.delegate?.session(session, didReceive: head, on: streamID, endStream: endStream)
                }
            } else if endStream {
                // Trailers end the request body; their fields are not kept.
                session.delegate?.session(session, didEndRequestOn: streamID)
            }
        case NGHTTP2_DATA.rawValue:
            if endStream { session.delegate?.session(session, didEndRequestOn: streamID) }
        case NGHTTP2_RST_STREAM.rawValue:
            if !session.takeResetToken() {
                session.failure = .flood(
                    "more than \(session.limits.maxResetStreamBurst) stream resets at once or \(session.limits.maxResetStreamsPerSecond) per second")
                nghttp2_session_terminate_session(session.session, HTTP2ErrorCode.enhanceYourCalm.rawValue)
            }
        case NGHTTP2_PING.rawValue, NGHTTP2_SETTINGS.rawValue:
            guard flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0 else { return 0 }
            if !session.countControlFrame() {
                session.failure = .flood("more than \(session.limits.maxPingAndSettingsFramesPerSecond) PING/SETTINGS frames per second")
                nghttp2_session_terminate_session(session.session, HTTP2ErrorCode.enhanceYourCalm.rawValue)
            }
        default:
            break
        }
        return 0
    }

    private static let frameSentCallback: nghttp2_on_frame_send_callback = { _, frame, userData in
        guard let frame else { return 0 }
        let flags = rill_h2_frame_flags(frame)
        let type = UInt32(rill_h2_frame_type(frame))
        if flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0, type == NGHTTP2_DATA.rawValue || type == NGHTTP2_HEADERS.rawValue {
            let session = HTTP2Session.session(userData)
            session.delegate?.session(session, didSendEndOfResponseOn: rill_h2_frame_stream_id(frame))
        }
        return 0
    }

    private static let dataChunkCallback: nghttp2_on_data_chunk_recv_callback = { _, _, streamID, data, length, userData in
        guard let data else { return 0 }
        let session = HTTP2Session.session(userData)
        session.delegate?.session(session, didReceiveBody: UnsafeRawBufferPointer(start: data, count: length), on: streamID)
        return 0
    }

    private static let streamCloseCallback: nghttp2_on_stream_close_callback = { _, streamID, errorCode, userData in
        let session = HTTP2Session.session(userData)
        session.partialHeads[streamID] = nil
        session.delegate?.session(session, didCloseStream: streamID, error: HTTP2ErrorCode(rawValue: errorCode))
        return 0
    }

    private static let dataSourceCallback: nghttp2_data_source_read_callback = { _, streamID, buffer, length, dataFlags, _, userData in
        let session = HTTP2Session.session(userData)
        guard let delegate = session.delegate, let buffer else { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
        let result = delegate.session(session, fillDataFor: streamID, into: UnsafeMutableRawBufferPointer(start: buffer, count: length))
        switch result {
        case .bytes(let count, let isLast):
            if isLast { dataFlags?.pointee |= UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue) }
            return count
        case .deferred:
            return Int(NGHTTP2_ERR_DEFERRED.rawValue)
        }
    }

    /// Takes a token for one received `RST_STREAM`; false once the bucket is empty (rapid
    /// reset, CVE-2023-44487).
    private func takeResetToken() -> Bool {
        let now = nowMilliseconds()
        let elapsedSeconds = Double(now &- resetTokensRefilledAt) / 1000
        resetTokensRefilledAt = now
        resetTokens = min(Double(limits.maxResetStreamBurst), resetTokens + elapsedSeconds * Double(limits.maxResetStreamsPerSecond))
        guard resetTokens >= 1 else { return false }
        resetTokens -= 1
        return true
    }

    /// Counts a PING or SETTINGS frame; false once the client exceeded its budget.
    private func countControlFrame() -> Bool {
        let now = nowMilliseconds()
        if now &- controlFrameWindowStart >= 1000 {
            controlFrameWindowStart = now
            controlFrameCount = 0
        }
        controlFrameCount += 1
        return controlFrameCount <= limits.maxPingAndSettingsFramesPerSecond
    }
}
