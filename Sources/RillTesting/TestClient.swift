public import Rill
import RillHTTP

#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// How ``Application/test(_:_:isolation:)`` runs requests.
public enum TestMode: Sendable {
    /// In process: requests go straight to the router's responder (with all middleware) on the
    /// application's event loop, and streamed bodies and event streams run there too, in a
    /// task of their own as on the server (``TestClient/sse(_:headerFields:)`` reads one as it
    /// comes and stops an endless one). No sockets: no server limits, no framing fields
    /// (`Content-Length`, `Date`), no heartbeats, nothing ever queued.
    case router
    /// Over real sockets: the server is started on 127.0.0.1 with a free port, each request
    /// uses a new TCP connection. Needs `ServerConfiguration(host: "127.0.0.1", port: 0)`.
    case live
}

extension Application {
    /// Runs `body` with a client for this application, then shuts the application down.
    ///
    /// ```swift
    /// let router = Router()
    /// router.get("/hello") { _, _ in "Hello" }
    /// let app = try Application(router: router, configuration: .init(host: "127.0.0.1", port: 0))
    /// try await app.test(.live) { client in
    ///     let response = try await client.get("/hello")
    ///     #expect(response.status == .ok)
    ///     #expect(response.bodyText == "Hello")
    /// }
    /// ```
    ///
    /// - `.router` calls the router's responder in process;
    /// - `.live` starts the server, which must be configured with host `127.0.0.1` and port 0
    ///   (a free port; the client learns the real one), so tests never collide on a port.
    ///
    /// The application is shut down when `body` returns or throws (its event loop stops), so use
    /// a new `Application` for every call.
    ///
    /// - Throws: ``TestClientError/liveModeNeedsLoopbackAndPortZero(host:port:)`` for `.live`
    ///   with another host or port, errors from starting the server, and whatever `body` throws.
    public func test<T>(
        _ mode: TestMode, isolation: isolated (any Actor)? = #isolation, _ body: (TestClient) async throws -> T
    ) async throws -> T {
        let client: TestClient
        switch mode {
        case .router:
            client = TestClient(backend: .router(responder: makeResponder(), application: self, bodies: InProcessBodies()))
        case .live:
            guard configuration.host == "127.0.0.1", configuration.port == 0 else {
                await shutdown()
                throw TestClientError.liveModeNeedsLoopbackAndPortZero(host: configuration.host, port: configuration.port)
            }
            let address: SocketAddress
            do {
                address = try await start()
            } catch {
                await shutdown()
                throw error
            }
            client = TestClient(backend: .live(port: address.port))
        }
        do {
            let result = try await body(client)
            client.closeInProcessBodies()
            await shutdown()
            return result
        } catch {
            client.closeInProcessBodies()
            await shutdown()
            throw error
        }
    }
}

/// Sends requests to an application under test; get one from ``Application/test(_:_:isolation:)``.
///
/// ```swift
/// try await app.test(.router) { client in
///     let created = try await client.post("/users", json: User(name: "Ada"))
///     #expect(created.status == .created)
///     let missing = try await client.get("/users/999")
///     #expect(missing.status == .notFound)
/// }
/// ```
public struct TestClient: Sendable {
    enum Backend: Sendable {
        case router(responder: Responder, application: Application, bodies: InProcessBodies)
        case live(port: Int)
    }

    let backend: Backend

    /// The server's port in `.live` mode; nil in `.router` mode.
    public var port: Int? {
        if case .live(let port) = backend { return port }
        return nil
    }

    /// How long a request may take before it fails with ``TestClientError/timedOut(waitingFor:)``
    /// (in `.router` mode: how long a streamed body may take to end).
    public var timeout: Duration = .seconds(10)

    /// Sends one request and returns the response.
    ///
    /// Error statuses are responses, not errors: a handler's thrown ``HTTPError`` comes back as
    /// its JSON response, any other thrown error as a `500`. In `.live` mode the client adds
    /// `Host` and `Content-Length` unless `headerFields` has them (or `Transfer-Encoding`).
    ///
    /// - Parameters:
    ///   - path: the request target, such as `/search?q=rill`.
    ///   - method: the method.
    ///   - headerFields: the request's header fields.
    ///   - body: the request body.
    public func execute(
        _ path: String, method: HTTPRequest.Method = .get, headerFields: HTTPFields = [:], body: [UInt8] = []
    ) async throws -> TestResponse {
        switch backend {
        case .router:
            let (response, streamed) = try await respondInProcess(path: path, method: method, headerFields: headerFields, body: body)
            var received = TestResponse(status: response.status, headerFields: response.headerFields, body: response.body.bytes ?? [])
            if let streamed {
                let timeout = self.timeout
                received.body = try await onDedicatedThread { try streamed.receiveAll(timeout: timeout) }
            } else if !Self.bodyAllowed(status: response.status, method: method) {
                received.body = []
            }
            return received
        case .live(let port):
            let request = Self.serialize(path: path, method: method, headerFields: headerFields, body: body, port: port)
            let timeout = self.timeout
            return try await onDedicatedThread {
                let connection = try RawConnection(port: port, timeout: timeout)
                defer { connection.close() }
                try connection.send(request)
                var response = try connection.readResponse(forRequestMethod: method)
                // Interim responses (100 Continue) are not what the caller asked for.
                while (100..<200).contains(response.status.code) && response.status.code != 101 {
                    response = try connection.readResponse(forRequestMethod: method)
                }
                return response
            }
        }
    }

    /// Sends a `GET`.
    public func get(_ path: String, headerFields: HTTPFields = [:]) async throws -> TestResponse {
        try await execute(path, method: .get, headerFields: headerFields)
    }

    /// Sends a `HEAD` (the response has no body).
    public func head(_ path: String, headerFields: HTTPFields = [:]) async throws -> TestResponse {
        try await execute(path, method: .head, headerFields: headerFields)
    }

    /// Sends a `DELETE`.
    public func delete(_ path: String, headerFields: HTTPFields = [:]) async throws -> TestResponse {
        try await execute(path, method: .delete, headerFields: headerFields)
    }

    /// Sends a `POST` with a raw body.
    public func post(_ path: String, body: [UInt8], headerFields: HTTPFields = [:]) async throws -> TestResponse {
        try await execute(path, method: .post, headerFields: headerFields, body: body)
    }

    /// Sends a `POST` with a UTF-8 text body (`text/plain` unless `headerFields` sets a type).
    public func post(_ path: String, text: String, headerFields: HTTPFields = [:]) async throws -> TestResponse {
        var fields = headerFields
        if fields[.contentType] == nil { fields[.contentType] = "text/plain; charset=utf-8" }
        return try await execute(path, method: .post, headerFields: fields, body: Array(text.utf8))
    }

    /// Sends a `POST` with `value` encoded as JSON (`Content-Type: application/json`).
    ///
    /// ```swift
    /// let response = try await client.post("/users", json: User(name: "Ada"))
    /// ```
    public func post<Value: Encodable>(
        _ path: String, json value: Value, encoder: JSONEncoder = JSONEncoder(), headerFields: HTTPFields = [:]
    ) async throws -> TestResponse {
        try await sendJSON(path, method: .post, value: value, encoder: encoder, headerFields: headerFields)
    }

    /// Sends a `PUT` with `value` encoded as JSON.
    public func put<Value: Encodable>(
        _ path: String, json value: Value, encoder: JSONEncoder = JSONEncoder(), headerFields: HTTPFields = [:]
    ) async throws -> TestResponse {
        try await sendJSON(path, method: .put, value: value, encoder: encoder, headerFields: headerFields)
    }

    /// Sends a `PATCH` with `value` encoded as JSON.
    public func patch<Value: Encodable>(
        _ path: String, json value: Value, encoder: JSONEncoder = JSONEncoder(), headerFields: HTTPFields = [:]
    ) async throws -> TestResponse {
        try await sendJSON(path, method: .patch, value: value, encoder: encoder, headerFields: headerFields)
    }

    private func sendJSON<Value: Encodable>(
        _ path: String, method: HTTPRequest.Method, value: Value, encoder: JSONEncoder, headerFields: HTTPFields
    ) async throws -> TestResponse {
        var fields = headerFields
        if fields[.contentType] == nil { fields[.contentType] = "application/json" }
        return try await execute(path, method: method, headerFields: fields, body: Array(try encoder.encode(value)))
    }

    // MARK: Router mode

    /// Runs the request through the responder on the application's loop, as the server does;
    /// a streamed body (when the status and method allow one) starts writing to an
    /// ``InProcessBody``, returned beside the response.
    func respondInProcess(
        path: String, method: HTTPRequest.Method, headerFields: HTTPFields, body: [UInt8]
    ) async throws -> (Response, InProcessBody?) {
        guard case .router(let responder, let application, let bodies) = backend else {
            preconditionFailure("respondInProcess is for .router mode")
        }
        let head = HTTPRequestHead(
            method: method, target: path, version: .http1_1, headerFields: headerFields,
            bodyFraming: body.isEmpty ? .none : .contentLength(body.count))
        let request = Request(head: head, body: body)
        let context = application.makeRequestContext()
        let logger = application.logger
        let task = Task(executorPreference: application.eventLoop.executor) { () -> Response in
            do {
                return try await responder(request, context).resolvingPending()
            } catch {
                return Response(handlerError: error, logger: logger, path: request.path)  // what the server answers
            }
        }
        let response = await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            task.cancel()
        }
        // A HEAD or a status without a body never runs it (a relayed subscription is let go).
        guard response.body.knownByteCount == nil, Self.bodyAllowed(status: response.status, method: method) else {
            return (response, nil)
        }
        let streamed = InProcessBody(eventStreamDefaults: application.configuration.eventStream)
        bodies.add(streamed)
        streamed.start(response.body, on: application.eventLoop)
        return (response, streamed)
    }

    static func bodyAllowed(status: HTTPResponse.Status, method: HTTPRequest.Method) -> Bool {
        status.permitsBody && method != .head
    }

    /// Ends the streamed bodies `.router` requests started (the test is over).
    func closeInProcessBodies() {
        if case .router(_, _, let bodies) = backend { bodies.closeAll() }
    }

    // MARK: Live mode

    private static let hostName = HTTPField.Name("Host")!

    static func serialize(path: String, method: HTTPRequest.Method, headerFields: HTTPFields, body: [UInt8], port: Int) -> [UInt8] {
        var text = "\(method.rawValue) \(path) HTTP/1.1\r\n"
        if headerFields[hostName] == nil { text += "host: 127.0.0.1:\(port)\r\n" }
        for field in headerFields { text += "\(field.name): \(field.value)\r\n" }
        let framed = headerFields[.contentLength] != nil || headerFields[.transferEncoding] != nil
        if !framed && (!body.isEmpty || [.post, .put, .patch].contains(method)) {
            text += "content-length: \(body.count)\r\n"
        }
        text += "\r\n"
        return Array(text.utf8) + body
    }
}
