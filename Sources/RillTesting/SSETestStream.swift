public import Rill

/// A Server-Sent Events stream for tests: the response head, then the events parsed by the
/// spec-exact ``ServerSentEventParser`` as they arrive — over a socket in `.live` mode, from
/// the stream running in process in `.router` mode. Endless streams are fine: read what you
/// need, then ``close()`` (the client leaves; the handler's stream is cancelled).
///
/// ```swift
/// try await app.test(.router) { client in     // or .live
///     let stream = try await client.sse("/ticks")
///     let events = try await stream.events(3)
///     #expect(events.map(\.data) == ["1", "2", "3"])
///     stream.close()
/// }
/// ```
public final class SSETestStream: @unchecked Sendable {
    /// The response status.
    public let status: HTTPResponse.Status
    /// The response header fields.
    public let headerFields: HTTPFields
    /// Every body byte received so far, de-chunked (comments and heartbeats included).
    public private(set) var body: [UInt8] = []

    /// Where the body comes from.
    private enum Source {
        /// A socket, and the response reader that parsed the head: it de-chunks the body as it
        /// arrives.
        case socket(RawConnection, HTTPResponseReader)
        /// The stream running in process (`.router` mode), or nil for a body that came whole.
        case inProcess(InProcessBody?, timeout: Duration)
    }

    private var source: Source
    private var parser = ServerSentEventParser()
    private var ready: [MessageEvent] = []
    private var ended = false

    init(connection: RawConnection, reader: HTTPResponseReader, status: HTTPResponse.Status, headerFields: HTTPFields) throws {
        self.source = .socket(connection, reader)
        self.status = status
        self.headerFields = headerFields
        try consumeBody()
    }

    /// A stream of a `.router` response: `streamed` is its body running in process, nil when
    /// the body (`bytes`) was known at once.
    init(status: HTTPResponse.Status, headerFields: HTTPFields, bytes: [UInt8], streamed: InProcessBody?, timeout: Duration) {
        self.source = .inProcess(streamed, timeout: timeout)
        self.status = status
        self.headerFields = headerFields
        receive(bytes)
        if streamed == nil { finish() }
    }

    /// Whether the server ended the stream (last chunk or close).
    public var isEnded: Bool { ended && ready.isEmpty }

    /// The last event id of the events returned so far (what a browser that processed them
    /// would send on reconnect); once every event received was returned, also what blocks with
    /// an `id:` and no data set (a stream's opening position), as in a browser.
    public private(set) var lastEventID = ""

    /// The next event; nil when the stream ended. Blocks up to the connection's timeout.
    public func nextEvent() throws -> MessageEvent? {
        while ready.isEmpty && !ended {
            try receiveMore()
        }
        guard !ready.isEmpty else { return nil }
        let event = ready.removeFirst()
        lastEventID = ready.isEmpty ? parser.lastEventID : event.lastEventID
        return event
    }

    /// The next `count` events (fewer only if the stream ended).
    public func events(_ count: Int) async throws -> [MessageEvent] {
        try await onDedicatedThread { [self] in
            var events: [MessageEvent] = []
            while events.count < count, let event = try self.nextEvent() { events.append(event) }
            return events
        }
    }

    /// Reads until the de-chunked body contains `text` (for comments and heartbeats).
    public func waitForBody(containing text: String) async throws {
        let needle = Array(text.utf8)
        try await onDedicatedThread { [self] in
            while !self.body.contains(needle) {
                guard !self.ended else { throw TestClientError.connectionClosed }
                try self.receiveMore()
            }
        }
    }

    /// Reads until the server ends the stream; returns the remaining events.
    public func remainingEvents() async throws -> [MessageEvent] {
        try await onDedicatedThread { [self] in
            var events: [MessageEvent] = []
            while let event = try self.nextEvent() { events.append(event) }
            return events
        }
    }

    /// Closes the connection (the client "leaves").
    public func close() {
        switch source {
        case .socket(let connection, _): connection.close()
        case .inProcess(let streamed, _): streamed?.close()
        }
    }

    /// Resets the connection (RST), like a client that crashed; in `.router` mode the same as
    /// ``close()``.
    public func reset() {
        switch source {
        case .socket(let connection, _): connection.reset()
        case .inProcess(let streamed, _): streamed?.close()
        }
    }

    private func receiveMore() throws {
        switch source {
        case .socket(let connection, var reader):
            let bytes = try connection.receive(atLeast: 1)
            // Everything received was handed out already; a body cut short just ends here.
            guard !bytes.isEmpty else { return finish() }
            reader.append(bytes)
            source = .socket(connection, reader)
            try consumeBody()
        case .inProcess(let streamed, let timeout):
            guard let streamed else { return finish() }
            let bytes = try streamed.receive(timeout: timeout)
            guard !bytes.isEmpty else { return finish() }
            receive(bytes)
        }
    }

    /// De-chunks what the socket's reader holds.
    private func consumeBody() throws {
        guard case .socket(let connection, var reader) = source else { return }
        let (payload, isComplete) = try reader.takeBody()
        source = .socket(connection, reader)
        receive(payload)
        if isComplete { finish() }
    }

    private func receive(_ payload: [UInt8]) {
        body.append(contentsOf: payload)
        ready.append(contentsOf: parser.parse(payload))
        if ready.isEmpty { lastEventID = parser.lastEventID }
    }

    private func finish() {
        ended = true
        parser.finish()
    }
}

extension TestClient {
    /// Opens a Server-Sent Events stream: a `GET` with `Accept: text/event-stream`, over a
    /// socket in `.live` mode, in process in `.router` mode. Non-200 responses are returned too
    /// (check ``SSETestStream/status``).
    public func sse(_ path: String, headerFields: HTTPFields = [:]) async throws -> SSETestStream {
        guard let port else {
            var fields = headerFields
            if fields[.accept] == nil { fields[.accept] = "text/event-stream" }
            let (response, streamed) = try await respondInProcess(path: path, method: .get, headerFields: fields, body: [])
            let bytes = Self.bodyAllowed(status: response.status, method: .get) ? response.body.bytes ?? [] : []
            return SSETestStream(
                status: response.status, headerFields: response.headerFields, bytes: bytes, streamed: streamed, timeout: timeout)
        }
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: text/event-stream\r\n"
        for field in headerFields { request += "\(field.name.rawName): \(field.value)\r\n" }
        request += "\r\n"
        let head = request
        let timeout = self.timeout
        return try await onDedicatedThread {
            let connection = try RawConnection(port: port, timeout: timeout)
            try connection.send(head)
            var reader = HTTPResponseReader()
            while true {
                let bytes = try connection.receive(atLeast: 1)
                if bytes.isEmpty { throw TestClientError.connectionClosed }
                reader.append(bytes)
                if let (status, fields) = try reader.head() {
                    return try SSETestStream(connection: connection, reader: reader, status: status, headerFields: fields)
                }
            }
        }
    }
}

extension TestClient {
    /// A client for a server already listening on 127.0.0.1:`port` (started by the test itself,
    /// for example to observe a shutdown from outside ``Application/test(_:_:)``).
    public init(port: Int) {
        self.init(backend: .live(port: port))
    }
}
