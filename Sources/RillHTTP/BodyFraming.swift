/// How the body of a request is delimited on the wire (RFC 9112 §6).
///
/// Requests never use read-until-close framing: a request with neither `Content-Length` nor
/// `Transfer-Encoding` has no body at all (RFC 9112 §6.3, rule 7).
public enum BodyFraming: Sendable, Equatable {
    /// The request has no body; `.end` follows the head immediately.
    case none
    /// The body is exactly this many bytes (`Content-Length`).
    case contentLength(Int)
    /// The body uses the chunked transfer coding and ends with a zero-size chunk.
    case chunked
}
