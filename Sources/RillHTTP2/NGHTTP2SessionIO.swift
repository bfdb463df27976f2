internal import CNGHTTP2

/// What the server and the client session do alike with their `nghttp2_session`: send what is
/// queued, and tell whether the session is done or has something to write.
enum NGHTTP2SessionIO {
    /// Sends what `session` has queued through its send callback. Returns nghttp2's reason
    /// when sending failed, nil when it went well.
    static func send(_ session: OpaquePointer) -> String? {
        let result = nghttp2_session_send(session)
        return result == 0 ? nil : String(cString: nghttp2_strerror(result))
    }

    /// Whether `session` neither wants to read nor has anything to write (true without one).
    static func isFinished(_ session: OpaquePointer?) -> Bool {
        guard let session else { return true }
        return nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0
    }

    /// Whether `session` has frames to send.
    static func wantsToWrite(_ session: OpaquePointer?) -> Bool {
        guard let session else { return false }
        return nghttp2_session_want_write(session) != 0
    }
}
