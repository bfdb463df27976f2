/// Why an ``HTTP2Session`` or an ``HTTP2ClientSession`` ended.
package enum HTTP2SessionFailure: Equatable, Sendable {
    /// The peer broke the protocol (nghttp2's reason).
    case protocolError(String)
    /// The client exceeded a budget (frames per second; server sessions only).
    case flood(String)
}
