/// Why a request's token was not accepted (the 401's message says which, never the token).
public enum JWTVerificationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The request carries no token (header, cookie or query).
    case missingToken
    /// The token is not a well-formed JWT, or its claims have the wrong types.
    case malformed
    /// No configured key verifies the token's signature.
    case invalidSignature
    /// The token's header names an algorithm (`alg`) no configured key uses: `none`, HS384, or
    /// RS256 where only a secret is configured.
    case unacceptedAlgorithm
    /// The token has no `exp` claim: Rill accepts only tokens that expire.
    case missingExpiration
    /// The token's `exp` has passed (beyond the leeway).
    case expired
    /// The token's `nbf` lies in the future (beyond the leeway).
    case notYetValid
    /// A pattern of the `rill` claim is not a valid channel pattern (the pattern's error).
    case invalidPattern(String)

    /// The reason, for an error message.
    public var description: String {
        switch self {
        case .missingToken: "missing token"
        case .malformed: "malformed token"
        case .invalidSignature: "invalid token signature"
        case .unacceptedAlgorithm: "the token's 'alg' is not that of any key (HS256, RS256 or ES256, as the key)"
        case .missingExpiration: "the token has no 'exp' claim"
        case .expired: "token expired"
        case .notYetValid: "token not yet valid ('nbf')"
        case .invalidPattern(let reason): "invalid channel pattern in the 'rill' claim: \(reason)"
        }
    }
}
