package import HTTPTypes

/// What an ``HTTP2ClientSession`` tells the connection that owns it. Every call comes from
/// inside ``HTTP2ClientSession/receive(_:)`` or ``HTTP2ClientSession/send()``, on the loop
/// thread.
package protocol HTTP2ClientSessionDelegate: AnyObject {
    /// Frames to send, in order: write them to the transport (copy what cannot go at once).
    func session(_ session: HTTP2ClientSession, write bytes: UnsafeRawBufferPointer)
    /// A response's head arrived on `streamID` (informational 1xx heads are skipped); with
    /// `endStream` it has no body.
    func session(_ session: HTTP2ClientSession, didReceive head: HTTP2ResponseHead, on streamID: Int32, endStream: Bool)
    /// Bytes of a response body. The session has already acknowledged them to the server
    /// (automatic `WINDOW_UPDATE`, sent by the next ``HTTP2ClientSession/send()``): take them
    /// now, they are not kept.
    func session(_ session: HTTP2ClientSession, didReceiveData bytes: UnsafeRawBufferPointer, on streamID: Int32)
    /// The stream closed: both sides ended it (`error` `.noError`), or either reset it.
    func session(_ session: HTTP2ClientSession, didCloseStream streamID: Int32, error: HTTP2ErrorCode)
    /// The server sent `GOAWAY`: streams above `lastStreamID` were not processed (they close
    /// with `REFUSED_STREAM`), and no new stream may be opened on this connection.
    func session(_ session: HTTP2ClientSession, didReceiveGoAwayWith error: HTTP2ErrorCode, lastStreamID: Int32)
}
