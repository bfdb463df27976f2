public import HTTPTypes

// Synchronous handlers. A closure that does not `await` is synchronous, and Swift picks these
// overloads for it over the asynchronous ones (RouterMethods.swift): `router.get("/ping") { _, _
// in "pong" }` registers a synchronous handler, `router.get("/me") { request, context in try
// await load(request) }` an asynchronous one; nothing changes at the call site.
//
// Why: where no middleware wraps the route, the server calls a synchronous handler inline on the
// connection's loop, the moment the request is complete — no task is created, scheduled, run and
// freed for it (measured on `GET /ping`: Benchmarks/RESULTS.md, session 13); over HTTP/2 likewise,
// per stream. Behind middleware it runs inside the request's task like any handler. Either way it
// runs on the connection's loop thread and must not block it.

extension RouterMethods {
    /// Registers a synchronous handler that returns any ``ResponseGenerator``.
    ///
    /// ```swift
    /// router.on("/hello", method: .get) { request, context in "Hello" }   // no await: this one
    /// ```
    @discardableResult
    public func on<Output: ResponseGenerator>(
        _ path: String, method: HTTPRequest.Method, maxBodyBytes: Int? = nil,
        use handler: @escaping @Sendable (Request, RequestContext) throws -> Output
    ) -> Self {
        on(
            path, method: method, maxBodyBytes: maxBodyBytes,
            synchronousResponder: { request, context in
                try handler(request, context).response(from: request, context: context)
            })
        return self
    }

    /// Registers a synchronous handler whose `Encodable` result is sent as JSON.
    @_disfavoredOverload
    @discardableResult
    public func on<Output: Encodable & Sendable>(
        _ path: String, method: HTTPRequest.Method, maxBodyBytes: Int? = nil,
        use handler: @escaping @Sendable (Request, RequestContext) throws -> Output
    ) -> Self {
        on(
            path, method: method, maxBodyBytes: maxBodyBytes,
            synchronousResponder: { request, context in
                try JSONResponse(try handler(request, context)).response(from: request, context: context)
            })
        return self
    }

    /// Registers a synchronous `GET` handler. `HEAD` requests are answered by it too (without the body).
    @discardableResult
    public func get<Output: ResponseGenerator>(
        _ path: String, use handler: @escaping @Sendable (Request, RequestContext) throws -> Output
    ) -> Self { on(path, method: .get, use: handler) }

    /// Registers a synchronous `GET` handler whose result is sent as JSON.
    @_disfavoredOverload @discardableResult
    public func get<Output: Encodable & Sendable>(
        _ path: String, use handler: @escaping @Sendable (Request, RequestContext) throws -> Output
    ) -> Self { on(path, method: .get, use: handler) }

    /// Registers a synchronous `POST` handler.
    @discardableResult
    public func post<Output: ResponseGenerator>(
        _ path: String, maxBodyBytes: Int? = nil,
        use handler: @escaping @Sendable (Request, RequestContext) throws -> Output
    ) -> Self { on(path, method: .post, maxBodyBytes: maxBodyBytes, use: handler) }

    /// Registers a synchronous `POST` handler whose result is sent as JSON.
    @_disfavoredOverload @discardableResult
    public func post<Output: Encodable & Sendable>(
        _ path: String, maxBodyBytes: Int? = nil,
        use handler: @escaping @Sendable (Request, RequestContext) throws -> Output
    ) -> Self { on(path, method: .post, maxBodyBytes: maxBodyBytes, use: handler) }

    /// Registers a synchronous `PUT` handler.
    @discardableResult
    public func put<Output: ResponseGenerator>(
        _ path: String, maxBodyBytes: Int? = nil,
        use handler: @escaping @Sendable (Request, RequestContext) throws -> Output
    ) -> Self { on(path, method: .put, maxBodyBytes: maxBodyBytes, use: handler) }

    /// Registers a synchronous `PUT` handler whose result is sent as JSON.
    @_disfavoredOverload @discardableResult
    public func put<Output: Encodable & Sendable>(
        _ path: String, maxBodyBytes: Int? = nil,
        use handler: @escaping @Sendable (Request, RequestContext) throws -> Output
    ) -> Self { on(path, method: .put, maxBodyBytes: maxBodyBytes, use: handler) }

    /// Registers a synchronous `PATCH` handler.
    @discardableResult
    public func patch<Output: ResponseGenerator>(
        _ path: String, maxBodyBytes: Int? = nil,
        use handler: @escaping @Sendable (Request, RequestContext) throws -> Output
    ) -> Self { on(path, method: .patch, maxBodyBytes: maxBodyBytes, use: handler) }

    /// Registers a synchronous `PATCH` handler whose result is sent as JSON.
    @_disfavoredOverload @discardableResult
    public func patch<Output: Encodable & Sendable>(
        _ path: String, maxBodyBytes: Int? = nil,
        use handler: @escaping @Sendable (Request, RequestContext) throws -> Output
    ) -> Self { on(path, method: .patch, maxBodyBytes: maxBodyBytes, use: handler) }

    /// Registers a synchronous `DELETE` handler.
    @discardableResult
    public func delete<Output: ResponseGenerator>(
        _ path: String, use handler: @escaping @Sendable (Request, RequestContext) throws -> Output
    ) -> Self { on(path, method: .delete, use: handler) }

    /// Registers a synchronous `DELETE` handler whose result is sent as JSON.
    @_disfavoredOverload @discardableResult
    public func delete<Output: Encodable & Sendable>(
        _ path: String, use handler: @escaping @Sendable (Request, RequestContext) throws -> Output
    ) -> Self { on(path, method: .delete, use: handler) }
}
