public import Rill
public import RillPubSub

#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// What a verified token says: who the client is, until when, and which channels it may
/// subscribe to and publish to.
///
/// The token's payload:
///
/// ```json
/// {"sub": "user-42", "exp": 1767225600,
///  "rill": {"subscribe": ["chat/*", "users/42/**"], "publish": ["chat/lobby"]}}
/// ```
///
/// `exp` is required; `sub` and `rill` are optional (without `rill`, the token allows no
/// channel). Patterns are ``ChannelPattern``s: `*` within one segment, `**` any segments.
public struct RillClaims: Sendable, Equatable {
    /// The client's identity (`sub`), if the token names one.
    public var subject: String?
    /// When the token expires (`exp`).
    public var expiration: Date
    /// The channels the client may subscribe to (`rill.subscribe`).
    public var subscribe: [ChannelPattern]
    /// The channels the client may publish to (`rill.publish`).
    public var publish: [ChannelPattern]

    /// Claims with these values.
    public init(subject: String? = nil, expiration: Date, subscribe: [ChannelPattern] = [], publish: [ChannelPattern] = []) {
        self.subject = subject
        self.expiration = expiration
        self.subscribe = subscribe
        self.publish = publish
    }

    /// Whether the claims allow `access` to `channel`: one of the patterns for that access
    /// matches it. For ``ChannelAccess/subscribeToPattern``, `channel` is the pattern asked for,
    /// and one of the `subscribe` patterns must cover it (``ChannelPattern/covers(_:)``: every
    /// channel it matches is allowed); a malformed pattern is not allowed.
    public func allows(_ access: ChannelAccess, to channel: String) -> Bool {
        switch access {
        case .subscribe:
            return subscribe.contains { $0.matches(channel) }
        case .subscribeToPattern:
            guard let pattern = try? ChannelPattern(channel) else { return false }
            return subscribe.contains { $0.covers(pattern) }
        case .publish:
            return publish.contains { $0.matches(channel) }
        }
    }
}

/// The storage key under which ``JWTAuthorizer/authenticate(_:context:)`` leaves the claims.
enum RillClaimsKey: RequestContext.Storage.Key {
    typealias Value = RillClaims
}

extension RequestContext {
    /// The verified claims of the request's token, once ``JWTAuthorizer/authenticate(_:context:)``
    /// (or ``JWTAuthenticationMiddleware``) accepted it; nil before.
    public var rillClaims: RillClaims? {
        get { storage[RillClaimsKey.self] }
        set { storage[RillClaimsKey.self] = newValue }
    }
}
