/// A check of a request's head that runs before its body is received (see
/// ``RouterGroup/checkBeforeBody(_:)``): return to admit the body, throw to refuse the request.
/// What it sets in the context's ``RequestContext/storage`` reaches the handler.
public typealias BodyCheck = @Sendable (Request, inout RequestContext) async throws -> Void

/// What the router says about a request whose head arrived and whose body waits
/// (``Router/screen(_:context:)``).
enum HeadScreening {
    /// Read the body.
    case admit
    /// Run `verdict` before reading the body.
    case screen(Verdict)

    /// The route's checks on the request, and the refusal they make, if any.
    typealias Verdict = @Sendable () async -> Outcome

    /// What the checks decided.
    enum Outcome {
        /// Read the body; the handler's context starts with this storage (what the checks set).
        case admitted(RequestContext.Storage)
        /// The answer: the check's error, through the middleware the route's handler would have
        /// run behind (so a CORS middleware still adds its fields).
        case refused(Response)
    }
}
