import Rill
import RillHTTP
import RillTesting

#if canImport(Glibc)
    import Glibc
#endif

/// The whole path of a plain keep-alive `GET /ping` through public API, in process: the bytes
/// of a request go into an `HTTPConnectionStateMachine` (the connection's machine, which owns
/// one `HTTPRequestParser` reused for every request, as on a keep-alive connection), its
/// `.handle` action's head goes through the router and handler by `app.test(.router)` (as in
/// ``RoutingWorkload``), and the response's head and body are serialized with
/// `HTTPResponseSerializer` into a new buffer the way the server's `writeHead` does it (status
/// line and fields, `date`, `server`, `content-length`, the empty line, the body); then the
/// machine hears that the response is finished and is ready for the next request.
///
/// What the server does on this path and this does not: the socket read and write (libuv, the
/// read buffer, `uv_write`), the connection's action loop and its timeouts. What this does and
/// the server does not: `TestClient.execute` builds a second `HTTPRequestHead` from the parsed
/// one's method, target and fields, awaits the handler's task (the server's handler task
/// writes the response itself) and returns a `TestResponse`. The `date` line comes from RillHTTP's
/// `HTTPDateLine`, the server's own per-second cache.
///
/// Every operation runs in one task on the application's loop, so no request crosses a thread.
public final class RequestPathWorkload: @unchecked Sendable {
    /// A curl-style keep-alive `GET /ping` with six header fields, 193 bytes.
    public static let request = Array(
        ("GET /ping HTTP/1.1\r\n"
            + "Host: 127.0.0.1:8080\r\n"
            + "User-Agent: curl/8.5.0\r\n"
            + "Accept: */*\r\n"
            + "Accept-Encoding: gzip, deflate, br\r\n"
            + "Connection: keep-alive\r\n"
            + "X-Request-ID: 9b2e6c41-5d7a-4f0e-8a13-2c6f0d4e7b95\r\n"
            + "\r\n").utf8)

    /// The `server` line of the default configuration (`serverName: "Rill"`).
    static let serverLine = Array("server: Rill\r\n".utf8)

    let routing: RoutingWorkload
    // Loop-confined: the connection's side, kept across operations like a keep-alive connection.
    private var machine = HTTPConnectionStateMachine()
    private var actions: [HTTPConnectionStateMachine.Action] = []
    private var dateLine = HTTPDateLine()

    private init(routing: RoutingWorkload) {
        self.routing = routing
    }

    /// Creates the application with the one route `GET /ping` (answering `pong`) and checks
    /// the bytes of one response.
    public static func start() async throws -> RequestPathWorkload {
        let workload = RequestPathWorkload(routing: try await RoutingWorkload.start(router: RoutingWorkload.oneRoute()))
        let response = try await Task(executorPreference: workload.routing.eventLoop.executor) {
            try await workload.serveOne()
        }.value
        let text = String(decoding: response, as: UTF8.self)
        precondition(
            text.hasPrefix("HTTP/1.1 200 OK\r\n") && text.contains("\r\ncontent-length: 4\r\n") && text.hasSuffix("\r\n\r\npong"),
            "unexpected response:\n\(text)")
        return workload
    }

    /// Serves `count` requests one after another from a task on the application's loop;
    /// returns the total bytes of the serialized responses.
    public func run(count: Int) async throws -> Int {
        try await Task(executorPreference: routing.eventLoop.executor) { [self] in
            var bytes = 0
            for _ in 0..<count { bytes &+= Self.written(try await serveOne()) }
            return bytes
        }.value
    }

    /// Ends `app.test`, which shuts the application and its loop down.
    public func shutdown() async throws {
        try await routing.shutdown()
    }

    /// One request: parse, route and handle, serialize, finish.
    private func serveOne() async throws -> [UInt8] {
        Self.request.withUnsafeBytes { machine.receive($0, bodyLimit: Self.defaultBodyLimit, into: &actions) }
        guard actions.count == 1, case .handle(let head, let body) = actions[0] else {
            fatalError("the machine answered \(actions) to a complete GET")
        }
        actions.removeAll(keepingCapacity: true)
        let response = try await routing.client.execute(head.target, method: head.method, headerFields: head.headerFields, body: body)
        let buffer = serialize(response, for: head)
        machine.responseFinished(keepAlive: head.keepAlive, bodyLimit: Self.defaultBodyLimit, into: &actions)
        precondition(actions.isEmpty, "the machine answered \(actions) to a finished response")
        return buffer
    }

    /// The response's head and body in one new buffer, as the server's `writeHead` writes a
    /// response with a byte body (one allocation; the server hands the buffer to the socket).
    private func serialize(_ response: TestResponse, for head: HTTPRequestHead) -> [UInt8] {
        // Framing is the server's: it drops a handler's own framing fields.
        var fields = response.headerFields
        if fields[.connection] != nil || fields[.contentLength] != nil || fields[.transferEncoding] != nil {
            fields[.connection] = nil
            fields[.contentLength] = nil
            fields[.transferEncoding] = nil
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(384 + response.body.count)
        HTTPResponseSerializer.writeStatusLineAndFields(
            status: response.status, headerFields: fields, version: head.version == .http1_0 ? .http1_0 : .http1_1, into: &buffer)
        buffer.append(contentsOf: dateLine.current())
        buffer.append(contentsOf: Self.serverLine)
        buffer.append(contentsOf: "content-length: ".utf8)
        buffer.append(contentsOf: String(response.body.count).utf8)
        buffer.append(contentsOf: "\r\n".utf8)
        HTTPResponseSerializer.endHead(into: &buffer)
        buffer.append(contentsOf: response.body)
        return buffer
    }

    /// Where the server's buffer goes to the socket: out of line, so the buffer is a real heap
    /// allocation as on the server, not one the optimizer could place on the stack.
    @inline(never)
    static func written(_ buffer: [UInt8]) -> Int { buffer.count }

    /// The server's default: no per-route body limit.
    static func defaultBodyLimit(_ head: HTTPRequestHead) -> Int? { nil }
}
