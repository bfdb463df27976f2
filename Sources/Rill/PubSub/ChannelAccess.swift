/// What a client wants to do with a channel, for the authorization hook.
public enum ChannelAccess: Sendable, Hashable {
    /// Receive the channel's events.
    case subscribe
    /// Receive the events of every channel a pattern matches; the hook gets the pattern as
    /// written (`chat/*`). Allow it only if every channel it can match may be subscribed to
    /// (`ChannelPattern.covers(_:)` decides that against patterns of your own).
    case subscribeToPattern
    /// Publish to the channel.
    case publish
}

/// Decides whether `request` may `access` `channel`. Runs on the event loop; may await.
///
/// It sees what an `EventSource` can send: cookies (`request.headerFields[.cookie]`), query
/// tokens (`request.query["token"]`) and, for fetch-based clients, `Authorization`.
public typealias ChannelAuthorizer =
    @Sendable (_ request: Request, _ context: RequestContext, _ channel: String, _ access: ChannelAccess) async throws -> Bool
