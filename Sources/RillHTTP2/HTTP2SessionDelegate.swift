package import HTTPTypes

/// What an ``HTTP2Session`` tells the connection that owns it. Every call comes from inside
/// ``HTTP2Session/receive(_:)`` or ``HTTP2Session/send()``, on the loop thread.
package protocol HTTP2SessionDelegate: AnyObject {
    /// Frames to send, in order: write them to the transport (copy what cannot go at once) and
    /// return true, or return false, writing nothing, while the transport already holds as much
    /// as it should (its high-water mark). The session then keeps the bytes, produces no more
    /// (so response data stays with its stream, where the stream's own limits see it) and
    /// offers them again at the next ``HTTP2Session/send()``.
    func session(_ session: HTTP2Session, write bytes: UnsafeRawBufferPointer) -> Bool
    /// A request's head arrived on a new stream; with `endStream` it has no body.
    func session(_ session: HTTP2Session, didReceive head: HTTP2RequestHead, on streamID: Int32, endStream: Bool)
    /// A request's header list was larger than ``HTTP2SessionLimits/maxHeaderListBytes``; the
    /// stream is open and waits for an answer (431).
    func session(_ session: HTTP2Session, headersTooLargeOn streamID: Int32)
    /// Bytes of a request body. The client may send more once they are consumed
    /// (``HTTP2Session/consume(_:on:)``).
    func session(_ session: HTTP2Session, didReceiveBody bytes: UnsafeRawBufferPointer, on streamID: Int32)
    /// The request body of `streamID` is complete.
    func session(_ session: HTTP2Session, didEndRequestOn streamID: Int32)
    /// The last frame of the response on `streamID` was sent.
    func session(_ session: HTTP2Session, didSendEndOfResponseOn streamID: Int32)
    /// The stream closed: both sides ended it (`error` `.noError`), or either reset it.
    func session(_ session: HTTP2Session, didCloseStream streamID: Int32, error: HTTP2ErrorCode)
    /// The session may send up to `buffer.count` bytes of `streamID`'s response body: copy
    /// them into `buffer`, or say there are none yet (``HTTP2Session/resumeData(of:)`` when
    /// some arrive).
    func session(_ session: HTTP2Session, fillDataFor streamID: Int32, into buffer: UnsafeMutableRawBufferPointer) -> HTTP2DataFill
}

/// What a response body gave for one DATA frame.
package enum HTTP2DataFill {
    /// `count` bytes were copied; `isLast`: the body ends with them.
    case bytes(count: Int, isLast: Bool)
    /// Nothing to send yet.
    case deferred
}
