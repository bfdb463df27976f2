public import Rill

/// Requires a valid token on every request it sees (401 with a JSON body otherwise), keeps its
/// claims in the context for the channel authorization, and ends the event streams the request
/// opens at the token's expiry: ``JWTAuthorizer/authenticate(_:context:)`` as a middleware.
///
/// ```swift
/// let jwt = try await JWTAuthorizer(keys: [.hmac(secret: "s3cret")])
/// app.authorizeChannels(with: jwt)
/// router.add(middleware: JWTAuthenticationMiddleware(jwt))
/// ```
public struct JWTAuthenticationMiddleware: Middleware {
    /// The authorizer that verifies the tokens.
    public let authorizer: JWTAuthorizer

    /// Authenticates with `authorizer`.
    public init(_ authorizer: JWTAuthorizer) { self.authorizer = authorizer }

    /// Authenticates `request` (401 if it has no valid token), then calls `next` with the
    /// claims and the streams' deadline in the context.
    public func handle(_ request: Request, context: RequestContext, next: Responder) async throws -> Response {
        var context = context
        try await authorizer.authenticate(request, context: &context)
        return try await next(request, context)
    }
}
