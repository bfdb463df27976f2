/// One step of a request as produced by ``HTTPRequestParser/next()``.
///
/// Every request yields exactly one ``head(_:)``, zero or more ``body(_:)`` events and one ``end``,
/// in that order, before the next pipelined request starts.
public enum HTTPParserEvent: Sendable, Equatable {
    /// The request line and header section were parsed and validated.
    case head(HTTPRequestHead)
    /// A slice of the body, in arrival order, already stripped of chunked framing. Never empty.
    case body([UInt8])
    /// The request is complete; the next event belongs to the next request.
    case end
}
