public import HTTPTypes

/// Route registration shared by ``Router`` and ``RouterGroup``.
public protocol RouterMethods {
    /// Registers `responder` for `method` on `path` (relative to the group's prefix).
    ///
    /// - Parameters:
    ///   - path: the path pattern: literal segments, `:name` parameters, a trailing `**`.
    ///   - method: the request method it answers.
    ///   - maxBodyBytes: this route's request-body limit (413 beyond), or nil for the server's
    ///     default.
    ///   - responder: produces the response, behind the middleware of the router and groups.
    func on(_ path: String, method: HTTPRequest.Method, maxBodyBytes: Int?, responder: @escaping Responder)

    /// Registers a synchronous `responder` for `method` on `path`. Where no middleware wraps the
    /// route, the server calls it inline on the connection's loop, without creating a task for
    /// the request; behind middleware it runs as an asynchronous responder would.
    ///
    /// The default implementation registers it through ``on(_:method:maxBodyBytes:responder:)``.
    func on(_ path: String, method: HTTPRequest.Method, maxBodyBytes: Int?, synchronousResponder: @escaping SynchronousResponder)
}

extension RouterMethods {
    public func on(_ path: String, method: HTTPRequest.Method, maxBodyBytes: Int?, synchronousResponder: @escaping SynchronousResponder) {
        on(path, method: method, maxBodyBytes: maxBodyBytes) { request, context in try synchronousResponder(request, context) }
    }
}

extension RouterMethods {
    /// Registers a handler that returns any ``ResponseGenerator`` (a `String`, bytes, a status,
    /// a ``Response``, an ``EventStream``…).
    ///
    /// ```swift
    /// router.on("/hello", method: .get) { request, context in "Hello" }
    /// ```
    @discardableResult
    public func on<Output: ResponseGenerator>(
        _ path: String, method: HTTPRequest.Method, maxBodyBytes: Int? = nil,
        use handler: @escaping @Sendable (Request, RequestContext) async throws -> Output
    ) -> Self {
        on(path, method: method, maxBodyBytes: maxBodyBytes) { request, context in
            let response = try await handler(request, context).response(from: request, context: context)
            // A synchronous `eventStream(for:)` it called may have left the stream pending:
            // resolved here, so the route's middleware sees the real head.
            return response.isPending ? try await response.resolvingPending() : response
        }
        return self
    }

    /// Registers a handler whose `Encodable` result is sent as JSON.
    @_disfavoredOverload
    @discardableResult
    public func on<Output: Encodable & Sendable>(
        _ path: String, method: HTTPRequest.Method, maxBodyBytes: Int? = nil,
        use handler: @escaping @Sendable (Request, RequestContext) async throws -> Output
    ) -> Self {
        on(path, method: method, maxBodyBytes: maxBodyBytes) { request, context in
            try JSONResponse(try await handler(request, context)).response(from: request, context: context)
        }
        return self
    }

    /// Registers a `GET` handler. `HEAD` requests are answered by it too (without the body).
    @discardableResult
    public func get<Output: ResponseGenerator>(
        _ path: String, use handler: @escaping @Sendable (Request, RequestContext) async throws -> Output
    ) -> Self { on(path, method: .get, use: handler) }

    /// Registers a `GET` handler whose result is sent as JSON.
    @_disfavoredOverload @discardableResult
    public func get<Output: Encodable & Sendable>(
        _ path: String, use handler: @escaping @Sendable (Request, RequestContext) async throws -> Output
    ) -> Self { on(path, method: .get, use: handler) }

    /// Registers a `POST` handler.
    @discardableResult
    public func post<Output: ResponseGenerator>(
        _ path: String, maxBodyBytes: Int? = nil,
        use handler: @escaping @Sendable (Request, RequestContext) async throws -> Output
    ) -> Self { on(path, method: .post, maxBodyBytes: maxBodyBytes, use: handler) }

    /// Registers a `POST` handler whose result is sent as JSON.
    @_disfavoredOverload @discardableResult
    public func post<Output: Encodable & Sendable>(
        _ path: String, maxBodyBytes: Int? = nil,
        use handler: @escaping @Sendable (Request, RequestContext) async throws -> Output
    ) -> Self { on(path, method: .post, maxBodyBytes: maxBodyBytes, use: handler) }

    /// Registers a `PUT` handler.
    @discardableResult
    public func put<Output: ResponseGenerator>(
        _ path: String, maxBodyBytes: Int? = nil,
        use handler: @escaping @Sendable (Request, RequestContext) async throws -> Output
    ) -> Self { on(path, method: .put, maxBodyBytes: maxBodyBytes, use: handler) }

    /// Registers a `PUT` handler whose result is sent as JSON.
    @_disfavoredOverload @discardableResult
    public func put<Output: Encodable & Sendable>(
        _ path: String, maxBodyBytes: Int? = nil,
        use handler: @escaping @Sendable (Request, RequestContext) async throws -> Output
    ) -> Self { on(path, method: .put, maxBodyBytes: maxBodyBytes, use: handler) }

    /// Registers a `PATCH` handler.
    @discardableResult
    public func patch<Output: ResponseGenerator>(
        _ path: String, maxBodyBytes: Int? = nil,
        use handler: @escaping @Sendable (Request, RequestContext) async throws -> Output
    ) -> Self { on(path, method: .patch, maxBodyBytes: maxBodyBytes, use: handler) }

    /// Registers a `PATCH` handler whose result is sent as JSON.
    @_disfavoredOverload @discardableResult
    public func patch<Output: Encodable & Sendable>(
        _ path: String, maxBodyBytes: Int? = nil,
        use handler: @escaping @Sendable (Request, RequestContext) async throws -> Output
    ) -> Self { on(path, method: .patch, maxBodyBytes: maxBodyBytes, use: handler) }

    /// Registers a `DELETE` handler.
    @discardableResult
    public func delete<Output: ResponseGenerator>(
        _ path: String, use handler: @escaping @Sendable (Request, RequestContext) async throws -> Output
    ) -> Self { on(path, method: .delete, use: handler) }

    /// Registers a `DELETE` handler whose result is sent as JSON.
    @_disfavoredOverload @discardableResult
    public func delete<Output: Encodable & Sendable>(
        _ path: String, use handler: @escaping @Sendable (Request, RequestContext) async throws -> Output
    ) -> Self { on(path, method: .delete, use: handler) }
}
