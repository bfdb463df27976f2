/// A check of a request's head that runs before its body is received (see
/// ``RouterGroup/checkBeforeBody(_:)``): return to admit the body, throw to refuse the request.
public typealias BodyCheck = @Sendable (Request, RequestContext) async throws -> Void

/// What the router says about a request whose head arrived and whose body waits
/// (``Router/screen(_:context:)``).
enum HeadScreening {
    /// Read the body.
    case admit
    /// Run `check` (with the route's path parameters in `context`) before reading the body; if
    /// it throws, `refusal` makes the answer: the error's response, through the middleware the
    /// route's handler would have run behind (so a CORS middleware still adds its fields).
    case screen(BodyCheck, RequestContext, refusal: Refusal)

    /// Turns a check's error into the response that refuses the request.
    typealias Refusal = @Sendable (any Error, Request, RequestContext) async -> Response
}
