/// Errors of the test clients themselves (not HTTP error statuses, which are responses).
public enum TestClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `.live` mode needs a configuration with `host: "127.0.0.1"` and `port: 0`.
    case liveModeNeedsLoopbackAndPortZero(host: String, port: Int)
    /// A socket call failed with this `errno`.
    case system(call: String, errno: Int32)
    /// Nothing (or not enough) arrived before the deadline.
    case timedOut(waitingFor: String)
    /// The peer closed the connection before a complete response arrived.
    case connectionClosed
    /// The peer reset the connection.
    case connectionReset

    /// What went wrong and how to fix it, for test failure messages.
    public var description: String {
        switch self {
        case .liveModeNeedsLoopbackAndPortZero(let host, let port):
            "app.test(.live) needs ServerConfiguration(host: \"127.0.0.1\", port: 0); this application has host \"\(host)\", port \(port)"
        case .system(let call, let errno): "\(call) failed with errno \(errno)"
        case .timedOut(let what): "timed out waiting for \(what)"
        case .connectionClosed: "the server closed the connection before a complete response"
        case .connectionReset: "the server reset the connection"
        }
    }
}
