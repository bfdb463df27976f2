public import HTTPTypes

/// Why a request could not be parsed. Every error is fatal for the connection: the parser stays
/// failed, and the integrator answers with ``status`` and closes, because after a framing error the
/// position of the next request in the byte stream is unknown (request smuggling).
public enum HTTPParserError: Error, Sendable, Equatable {
    /// The request line does not match `method SP request-target SP HTTP-version CRLF`.
    case malformedRequestLine(reason: String)
    /// A header (or trailer) line is not a valid `field-name ":" OWS field-value OWS`.
    case malformedHeader(reason: String)
    /// The request line and header section exceed ``HTTPRequestParser/Limits/maxHeaderBytes``,
    /// or there are more than ``HTTPRequestParser/Limits/maxHeaderCount`` header fields.
    case headersTooLarge
    /// The request-target exceeds ``HTTPRequestParser/Limits/maxTargetBytes``.
    case uriTooLong
    /// The body exceeds the body limit in force for this request.
    case bodyTooLarge
    /// The body length is ambiguous: both `Content-Length` and `Transfer-Encoding`, or
    /// `Content-Length` values that disagree.
    case conflictingFraming
    /// A `Content-Length` value is not a non-negative decimal integer that fits in `Int`.
    case invalidContentLength
    /// `Transfer-Encoding` is anything other than exactly `chunked`.
    case unsupportedTransferEncoding
    /// The request is not HTTP/1.0 or HTTP/1.1 (this includes the HTTP/2 connection preface).
    case unsupportedVersion
    /// The chunked framing of the body is invalid.
    case malformedChunk(reason: String)
    /// An HTTP/1.1 request has no `Host` header field (RFC 9112 §3.2).
    case missingHost

    /// The response status to send before closing the connection.
    public var status: HTTPResponse.Status {
        switch self {
        case .malformedRequestLine, .malformedHeader, .conflictingFraming, .invalidContentLength,
            .malformedChunk, .missingHost:
            .badRequest
        case .headersTooLarge:
            .requestHeaderFieldsTooLarge
        case .uriTooLong:
            .uriTooLong
        case .bodyTooLarge:
            .contentTooLarge
        case .unsupportedTransferEncoding:
            .notImplemented
        case .unsupportedVersion:
            .httpVersionNotSupported
        }
    }
}
