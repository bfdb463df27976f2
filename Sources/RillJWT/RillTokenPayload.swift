import JWTKit

/// The payload of a Rill token as jwt-kit decodes it. The times are checked by
/// ``JWTAuthorizer`` (with its leeway), not here.
struct RillTokenPayload: JWTPayload {
    /// The `rill` claim: patterns of channels per access.
    struct Grants: Codable, Sendable {
        var subscribe: [String]?
        var publish: [String]?
    }

    var exp: ExpirationClaim?
    var nbf: NotBeforeClaim?
    var sub: SubjectClaim?
    var rill: Grants?

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
