/// What the server decides about a request's body once its head arrived, before any of the body
/// is read: how large it may be, and whether the connection must first screen the head — run the
/// route's check of its credentials, or refuse a request no route takes — so that a request
/// that will be refused is answered without its body being received (and without
/// `100 Continue` inviting it).
public struct BodyAdmission: Sendable, Equatable {
    /// The largest body accepted, in bytes; nil for the configured default.
    public var maxBytes: Int?
    /// Whether the body waits until the connection screened the head
    /// (``HTTPConnectionStateMachine/headScreened(admitted:admission:into:)``).
    public var isScreened: Bool

    /// An admission with `maxBytes` as the limit, screened or not.
    public init(maxBytes: Int?, isScreened: Bool = false) {
        self.maxBytes = maxBytes
        self.isScreened = isScreened
    }
}
