public import Logging
public import RillCore

/// What a handler knows besides the request: path parameters, the logger, the peer's address,
/// the event loop it runs on, and its application's channels (``publish(_:channel:authorizing:)``,
/// `eventStream(for:)`).
public struct RequestContext: Sendable {
    /// The parameters captured from the route's path pattern (`:id`, `**`).
    public var parameters: Parameters
    /// A logger carrying the request's metadata, ``requestID`` as `request_id` among them.
    public var logger: Logger {
        get {
            // Added when asked for, not per request: a handler that does not log pays nothing.
            guard let requestID, !loggerCarriesRequestID else { return baseLogger }
            var logger = baseLogger
            logger[metadataKey: "request_id"] = .stringConvertible(requestID)
            return logger
        }
        set {
            baseLogger = newValue
            loggerCarriesRequestID = true
        }
    }
    /// The request's id (its valid `X-Request-Id`, or one generated), echoed in the response's
    /// `X-Request-Id`; nil for a context made outside a server.
    public let requestID: RequestID?
    /// The application's logger, or the one a middleware set.
    private var baseLogger: Logger
    /// Whether ``baseLogger`` was set through ``logger`` (and so has the `request_id` already).
    private var loggerCarriesRequestID = false
    /// The address of the client, when known.
    public let remoteAddress: SocketAddress?
    /// The event loop the handler runs on. Use its `sleep(for:)` for delays.
    public let eventLoop: EventLoop
    /// Values set by middleware for later middleware and the handler (an authenticated user,
    /// for example), keyed by type.
    public var storage: Storage = Storage()
    /// The application's publishing and subscribing (see `RequestContext+PubSub.swift`); nil
    /// for a context made outside an application.
    let pubSub: PubSub?

    /// Creates a context; the server does this for each request. A context made here belongs
    /// to no application: its ``publish(_:channel:authorizing:)`` and
    /// `eventStream(for:)` throw.
    public init(parameters: Parameters = Parameters(), logger: Logger, remoteAddress: SocketAddress?, eventLoop: EventLoop) {
        self.init(parameters: parameters, logger: logger, remoteAddress: remoteAddress, eventLoop: eventLoop, pubSub: nil)
    }

    init(
        parameters: Parameters = Parameters(), logger: Logger, remoteAddress: SocketAddress?, eventLoop: EventLoop, pubSub: PubSub?,
        requestID: RequestID? = nil
    ) {
        self.parameters = parameters
        self.baseLogger = logger
        self.requestID = requestID
        self.remoteAddress = remoteAddress
        self.eventLoop = eventLoop
        self.pubSub = pubSub
    }

    /// Values keyed by a key type, for middleware to pass along.
    ///
    /// ```swift
    /// enum UserKey: RequestContext.Storage.Key { typealias Value = User }
    /// context.storage[UserKey.self] = user
    /// ```
    public struct Storage: Sendable {
        /// A key type whose `Value` is the stored type.
        public protocol Key { associatedtype Value: Sendable }
        private var values: [ObjectIdentifier: any Sendable] = [:]

        /// Creates empty storage.
        public init() {}

        /// The value stored for `key`, or nil.
        public subscript<K: Key>(_ key: K.Type) -> K.Value? {
            get {
                // Most contexts store nothing: no hashing, and no dynamic cast of a nil.
                guard !values.isEmpty, let value = values[ObjectIdentifier(key)] else { return nil }
                return value as? K.Value
            }
            set { values[ObjectIdentifier(key)] = newValue }
        }
    }

    /// The path parameter `name`, or a 400 error naming it.
    public func parameter(_ name: String) throws -> String {
        guard let value = parameters[name] else {
            throw HTTPError(.badRequest, message: "missing path parameter '\(name)'")
        }
        return value
    }
}
