/// Who the client is, for presence: set by whatever authenticates the request.
extension RequestContext {
    /// The identity a stream this request opens is listed under in the channel's presence
    /// (``Application/presence(of:limit:authorizing:)``) and announced with in `rill-join` and
    /// `rill-leave` events; nil (the default) counts it as anonymous. An authentication hook
    /// sets it — RillJWT's `JWTAuthorizer.authenticate(_:context:)` sets the token's `sub`.
    ///
    /// ```swift
    /// var context = context
    /// context.presenceIdentity = session.userName
    /// return try await context.eventStream(for: request)
    /// ```
    public var presenceIdentity: String? {
        get { storage[PresenceIdentityKey.self] }
        set { storage[PresenceIdentityKey.self] = newValue }
    }
}

/// The storage key of ``RequestContext/presenceIdentity``.
enum PresenceIdentityKey: RequestContext.Storage.Key {
    typealias Value = String
}
