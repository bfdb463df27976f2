import RillHTTP

/// A request on an HTTP/2 stream while its body arrives: the head, the body so far, and what the
/// connection's budgets count of it. A class of its own, held only until the handler has the
/// request, so that a stream that answers for a long time (an event stream) carries none of it.
final class HTTP2RequestAssembly {
    let head: HTTPRequestHead
    /// The route's body limit for this request (413 beyond).
    let bodyLimit: Int
    /// The body received so far.
    var body: [UInt8] = []
    /// What the checks of the head stored for the handler (``RouterGroup/checkBeforeBody(_:)``).
    var checkedStorage: RequestContext.Storage?
    /// More than ``bodyLimit`` arrived while the head was screened: the bytes were dropped,
    /// and the request is refused whatever the verdict.
    var overflowed = false
    /// Body bytes the connection's budget counts.
    var heldBodyBytes = 0
    /// Header list bytes the connection's budget counts.
    var heldHeadBytes: Int
    /// Body bytes received but not yet acknowledged to the client (over the budget).
    var unacknowledgedBodyBytes = 0

    init(head: HTTPRequestHead, bodyLimit: Int, heldHeadBytes: Int) {
        self.head = head
        self.bodyLimit = bodyLimit
        self.heldHeadBytes = heldHeadBytes
    }
}
