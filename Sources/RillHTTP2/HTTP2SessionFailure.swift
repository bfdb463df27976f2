/// Why an ``HTTP2Session`` ended.
package enum HTTP2SessionFailure: Equatable, Sendable {
    /// The client broke the protocol (nghttp2's reason).
    case protocolError(String)
    /// The client exceeded a budget (frames per second).
    case flood(String)
}
