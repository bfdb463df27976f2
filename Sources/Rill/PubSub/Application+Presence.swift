public import RillPubSub

extension Application {
    /// Who is subscribed to `channel`: its number of subscriptions and, longest present first,
    /// up to `limit` identified members (``RequestContext/presenceIdentity``), each with its
    /// subscriptions and since when. Over a Redis broker it spans every process on that Redis;
    /// in memory, this process.
    ///
    /// ```swift
    /// router.get("/who") { request, context in
    ///     try await app.presence(of: "chat", limit: 50, authorizing: (request, context))
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - channel: the channel.
    ///   - limit: the most members listed (`Presence.memberCount` counts them all).
    ///   - request: when given, the authorization hook must allow subscribing to `channel`.
    /// - Throws: ``HTTPError`` 400 for an invalid or reserved channel name, 403 when not
    ///   allowed, 503 when a shared store cannot be read.
    public func presence(
        of channel: String, limit: Int = 100, authorizing request: (Request, RequestContext)? = nil
    ) async throws -> Presence {
        try await pubSub.presence(of: channel, limit: limit, authorizing: request)
    }
}
