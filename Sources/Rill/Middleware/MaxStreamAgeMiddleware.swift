/// Ends every event stream after a maximum age, spread by a jitter, with
/// `event: rill-reconnect`: the client reconnects — to whichever instance the load balancer
/// picks now — and resumes with `Last-Event-ID`, losing nothing (the final event carries no id).
/// Long-lived streams rebalance after scaling out instead of staying on the old instances.
///
/// ```swift
/// router.add(middleware: MaxStreamAgeMiddleware(maxAge: .seconds(3600)))  // 54 to 66 minutes
/// ```
///
/// The age combines with other deadlines (a token's expiry): the earliest ends the stream
/// (``RequestContext/limitEventStreams(to:)``).
public struct MaxStreamAgeMiddleware: Middleware {
    /// The age around which streams end.
    public let maxAge: Duration
    /// How far each stream's age is spread, as a fraction (a factor drawn uniformly from
    /// `1 - jitter ... 1 + jitter`): streams opened together do not all end together.
    public let jitter: Double

    /// Ends streams after `maxAge`, spread by `jitter` (default ±10 %).
    public init(maxAge: Duration, jitter: Double = 0.1) {
        precondition(maxAge > .zero, "maxAge must be positive")
        precondition((0...1).contains(jitter), "jitter is a fraction from 0 to 1")
        self.maxAge = maxAge
        self.jitter = jitter
    }

    public func handle(_ request: Request, context: RequestContext, next: Responder) async throws -> Response {
        var context = context
        let factor = jitter > 0 ? Double.random(in: (1 - jitter)...(1 + jitter)) : 1
        context.limitEventStreams(to: EventStreamDeadline(.now + maxAge * factor, finalEvent: Self.reconnectEvent))
        return try await next(request, context)
    }

    /// The final event: `event: rill-reconnect` with a JSON reason (an `EventSource` dispatches
    /// only events with data).
    public static let reconnectEvent = ServerSentEvent(data: #"{"reason":"max connection age"}"#, event: "rill-reconnect")
}
