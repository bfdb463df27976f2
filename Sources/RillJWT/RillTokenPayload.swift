import JWTKit

/// The payload of a Rill token as jwt-kit decodes it. Every claim is optional here, so that a
/// missing one gets its own answer; the times are checked by ``JWTAuthorizer`` (with its
/// leeway), not here.
struct RillTokenPayload: JWTPayload {
    /// The `rill` claim: patterns of channels per access.
    struct Grants: Codable, Sendable {
        /// Patterns of the channels the client may subscribe to.
        var subscribe: [String]?
        /// Patterns of the channels the client may publish to.
        var publish: [String]?
    }

    /// `exp`: required by ``JWTAuthorizer``.
    var exp: ExpirationClaim?
    /// `nbf`: checked when present.
    var nbf: NotBeforeClaim?
    /// `sub`: the client's identity.
    var sub: SubjectClaim?
    /// `rill`: what the token allows.
    var rill: Grants?

    /// Nothing to check here: ``JWTAuthorizer/verify(_:)`` checks `exp` and `nbf` with its leeway.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
