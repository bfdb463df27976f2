public import Rill

extension Application {
    /// Authorizes subscribing and publishing with `authorizer`: a channel is allowed when a
    /// pattern of the token's `rill.subscribe` (or `rill.publish`) claim matches it (403
    /// otherwise); a request without a valid token gets 401. Sets the application's channel
    /// authorization hook (``authorizeChannels(_:)``).
    ///
    /// - Important: a stream ends at its token's expiry only when the request was
    ///   authenticated (``JWTAuthenticationMiddleware`` or ``JWTAuthorizer/authenticate(_:context:)``);
    ///   the hook alone checks the token when the stream opens.
    public func authorizeChannels(with authorizer: JWTAuthorizer) {
        authorizeChannels { request, context, channel, access in
            try await authorizer.authorize(request, context: context, channel: channel, access: access)
        }
    }
}
