/// A check of a request's head that runs before its body is received (see
/// ``RouterGroup/checkBeforeBody(_:)``): return to admit the body, throw to refuse the request.
public typealias BodyCheck = @Sendable (Request, RequestContext) async throws -> Void

/// What the router says about a request whose head arrived and whose body waits
/// (``Router/screen(_:context:)``).
enum HeadScreening {
    /// Read the body.
    case admit
    /// Run `verdict` before reading the body: nil admits it; a response refuses the request —
    /// the check's error, answered through the middleware the route's handler would have run
    /// behind (so a CORS middleware still adds its fields).
    case screen(Verdict)

    /// The route's checks on the request, and the refusal they make, if any.
    typealias Verdict = @Sendable () async -> Response?
}
