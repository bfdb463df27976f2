import HTTPTypes
import Rill
import RillTestSupport
import RillTesting
import Synchronization
import Testing

/// `CORSMiddleware`: which responses carry which fields, preflights answered before the
/// middleware behind it, refusals that say what is not allowed.
@Suite(.timeLimit(.minutes(1)))
struct CORSMiddlewareTests {
    static let page = "https://app.example.com"
    static let stranger = "https://evil.example"

    /// A router with `cors` in front of a middleware that requires `Authorization: Bearer t`
    /// and counts what reaches it, `/items` (GET, DELETE), `/fail` (throws a 500) and
    /// `/events` (an event stream).
    private func application(_ cors: CORSMiddleware, reachedBehind: Count? = nil) throws -> Application {
        let router = Router()
        router.add(middleware: cors)
        router.add(
            middleware: ClosureMiddleware { request, context, next in
                reachedBehind?.value.withLock { $0 += 1 }
                guard request.headerFields[.authorization] == "Bearer t" || request.path.hasPrefix("/events") else {
                    throw HTTPError(.unauthorized, message: "no token")
                }
                return try await next(request, context)
            })
        router.get("/items") { _, _ in Response(headerFields: [.vary: "Accept-Encoding"], body: .text("items")) }
        router.delete("/items") { _, _ in "deleted" }
        router.get("/fail") { _, _ -> String in throw FailedOnPurpose() }
        router.get("/events") { request, context in try await context.eventStream(for: request, channels: ["cors"]) }
        router.post("/upload", maxBodyBytes: 10) { request, _ in "\(request.body.count)" }
        return try Application(router: router, configuration: testConfiguration())
    }

    private struct FailedOnPurpose: Error {}

    private final class Count: Sendable { let value = Mutex(0) }

    private static func varyTokens(_ fields: HTTPFields) -> [String] {
        fields[values: .vary].flatMap { $0.split(separator: ",") }.map { String($0.trimmingPrefix(" ")) }
    }

    @Test func `an allowed origin's responses carry its fields, errors and event streams included`() async throws {
        let app = try application(
            CORSMiddleware(allowedOrigins: [Self.page], exposedHeaders: [HTTPField.Name("X-Request-Id")!], allowsCredentials: true))
        try await app.test(.live) { client in
            let fromPage: HTTPFields = [.origin: Self.page, .authorization: "Bearer t"]
            var responses: [(String, TestResponse)] = []
            responses.append(("GET", try await client.get("/items", headerFields: fromPage)))
            responses.append(("401", try await client.get("/items", headerFields: [.origin: Self.page])))
            responses.append(("404", try await client.get("/nowhere", headerFields: fromPage)))
            responses.append(("500", try await client.get("/fail", headerFields: fromPage)))
            #expect(responses.map(\.1.status.code) == [200, 401, 404, 500])
            for (name, response) in responses {
                #expect(response.headerFields[.accessControlAllowOrigin] == Self.page, "\(name)")
                #expect(response.headerFields[.accessControlAllowCredentials] == "true", "\(name)")
                #expect(response.headerFields[.accessControlExposeHeaders] == "X-Request-Id", "\(name)")
                #expect(Self.varyTokens(response.headerFields).filter { $0 == "Origin" }.count == 1, "\(name)")
            }
            // The handler's own Vary is kept.
            #expect(Self.varyTokens(responses[0].1.headerFields).contains("Accept-Encoding"))

            let stream = try await client.sse("/events", headerFields: [.origin: Self.page])
            #expect(stream.status == .ok)
            #expect(stream.headerFields[.accessControlAllowOrigin] == Self.page)
            _ = try await app.publish(ServerSentEvent(data: "hello"), channel: "cors")
            try await stream.waitForBody(containing: "data: hello\n\n")
            stream.close()
        }
    }

    @Test func `a body declared over the limit is refused with the fields, over HTTP 1 1 and HTTP 2`() async throws {
        let app = try application(CORSMiddleware(allowedOrigins: [Self.page]))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let headers = try await onDedicatedThread { () -> [String] in
                var heads: [String] = []
                // Over the route's 10 bytes; over the server's 1 MiB where no route takes it.
                for (path, length) in [("/upload", 100), ("/nowhere", 2_000_000)] {
                    let connection = try RawConnection(port: port)
                    defer { connection.close() }
                    try connection.send(
                        "POST \(path) HTTP/1.1\r\nHost: x\r\nOrigin: \(Self.page)\r\nAuthorization: Bearer t\r\nContent-Length: \(length)\r\n\r\n")
                    heads.append(String(decoding: try connection.receiveUntilClose(), as: UTF8.self).lowercased())
                }
                return heads
            }
            #expect(headers[0].hasPrefix("http/1.1 413 "), "\(headers[0].prefix(60))")
            #expect(headers[1].hasPrefix("http/1.1 404 "), "no route: its 404, not 413; \(headers[1].prefix(60))")
            for head in headers { #expect(head.contains("access-control-allow-origin: \(Self.page)"), "\(head.prefix(200))") }
            let overHTTP2 = try await runCommand(
                [
                    "/usr/bin/curl", "-s", "-i", "--max-time", "10", "--http2-prior-knowledge", "-H", "Origin: \(Self.page)",
                    "-H", "Authorization: Bearer t", "--data-binary", String(repeating: "x", count: 100), "http://127.0.0.1:\(port)/upload",
                ],
                timeout: .seconds(15))
            #expect(overHTTP2.standardOutput.hasPrefix("HTTP/2 413"), "\(overHTTP2)")
            #expect(overHTTP2.standardOutput.contains("access-control-allow-origin: \(Self.page)"), "\(overHTTP2)")
        }
    }

    @Test func `another origin's requests are answered without the fields, and requests without an origin untouched`() async throws {
        let app = try application(CORSMiddleware(allowedOrigins: [Self.page], allowsCredentials: true))
        try await app.test(.live) { client in
            let stranger = try await client.get("/items", headerFields: [.origin: Self.stranger, .authorization: "Bearer t"])
            #expect(stranger.status == .ok, "CORS is the browser's to enforce; the request is served")
            #expect(stranger.headerFields[.accessControlAllowOrigin] == nil)
            #expect(stranger.headerFields[.accessControlAllowCredentials] == nil)
            #expect(Self.varyTokens(stranger.headerFields).contains("Origin"))

            let sameOrigin = try await client.get("/items", headerFields: [.authorization: "Bearer t"])
            #expect(sameOrigin.status == .ok)
            #expect(sameOrigin.headerFields[.accessControlAllowOrigin] == nil)
            #expect(Self.varyTokens(sameOrigin.headerFields).contains("Origin"), "a cache must not serve it to another origin")
        }
    }

    @Test func `a preflight is answered before the middleware behind, with the allowed methods and headers`() async throws {
        let reached = Count()
        let app = try application(
            CORSMiddleware(
                allowedOrigins: [Self.page], allowedMethods: [.get, .delete], allowsCredentials: true, maxAge: .seconds(90)),
            reachedBehind: reached)
        try await app.test(.live) { client in
            let preflight = try await client.execute(
                "/items", method: .options,
                headerFields: [
                    .origin: Self.page, .accessControlRequestMethod: "DELETE",
                    .accessControlRequestHeaders: "authorization,Content-Type, last-event-id",
                ])
            #expect(preflight.status == .noContent)
            #expect(preflight.headerFields[.accessControlAllowOrigin] == Self.page)
            #expect(preflight.headerFields[.accessControlAllowCredentials] == "true")
            #expect(preflight.headerFields[.accessControlAllowMethods] == "GET, DELETE")
            #expect(preflight.headerFields[.accessControlAllowHeaders] == "Authorization, Content-Type, Last-Event-ID")
            #expect(preflight.headerFields[.accessControlMaxAge] == "90")
            #expect(Self.varyTokens(preflight.headerFields).contains("Origin"))
            #expect(reached.value.withLock { $0 } == 0, "the preflight, which carries no token, never reached the authentication")

            // POST needs no preflight permission (a CORS-safelisted method).
            let post = try await client.execute(
                "/items", method: .options, headerFields: [.origin: Self.page, .accessControlRequestMethod: "POST"])
            #expect(post.status == .noContent)

            // The request the preflight announced.
            let delete = try await client.delete("/items", headerFields: [.origin: Self.page, .authorization: "Bearer t"])
            #expect(delete.bodyText == "deleted")
            #expect(delete.headerFields[.accessControlAllowOrigin] == Self.page)

            // A plain OPTIONS (no Access-Control-Request-Method) is the router's.
            let plain = try await client.execute("/items", method: .options, headerFields: [.origin: Self.page, .authorization: "Bearer t"])
            #expect(plain.status == .noContent)
            #expect(plain.headerFields[.allow] == "DELETE, GET, HEAD, OPTIONS")
            #expect(plain.headerFields[.accessControlAllowMethods] == nil)
            #expect(plain.headerFields[.accessControlAllowOrigin] == Self.page)
        }
    }

    @Test func `a preflight from another origin, for another method or with another field is refused with the reason`() async throws {
        let reached = Count()
        let app = try application(CORSMiddleware(allowedOrigins: [Self.page]), reachedBehind: reached)
        try await app.test(.live) { client in
            let cases: [(HTTPFields, String)] = [
                ([.origin: Self.stranger, .accessControlRequestMethod: "GET"], "the origin https://evil.example may not"),
                ([.origin: Self.page, .accessControlRequestMethod: "DELETE"], "the method DELETE is not allowed"),
                (
                    [.origin: Self.page, .accessControlRequestMethod: "GET", .accessControlRequestHeaders: "authorization, x-secret"],
                    "the request field x-secret is not allowed"
                ),
            ]
            for (fields, reason) in cases {
                let refused = try await client.execute("/items", method: .options, headerFields: fields)
                #expect(refused.status == .forbidden, "\(reason)")
                #expect(refused.bodyText.contains(reason), "\(refused.bodyText)")
                #expect(refused.headerFields[.accessControlAllowOrigin] == nil, "\(reason)")
                #expect(refused.headerFields[.accessControlAllowMethods] == nil, "\(reason)")
            }
            #expect(reached.value.withLock { $0 } == 0)
        }
    }

    @Test func `any origin gets a star without credentials and no Vary on Origin`() async throws {
        let app = try application(CORSMiddleware(allowedOrigins: .any, allowedHeaders: nil))
        try await app.test(.live) { client in
            let response = try await client.get("/items", headerFields: [.origin: Self.stranger, .authorization: "Bearer t"])
            #expect(response.headerFields[.accessControlAllowOrigin] == "*")
            #expect(response.headerFields[.accessControlAllowCredentials] == nil)
            #expect(!Self.varyTokens(response.headerFields).contains("Origin"))
            // The same answer for every request (Fetch §3.2.5): without an Origin too, so that a
            // shared cache never hands a cross-origin caller a copy without the field.
            let withoutOrigin = try await client.get("/items", headerFields: [.authorization: "Bearer t"])
            #expect(withoutOrigin.headerFields[.accessControlAllowOrigin] == "*")
            // Any field a preflight asks for is allowed (allowedHeaders nil): echoed.
            let preflight = try await client.execute(
                "/items", method: .options,
                headerFields: [.origin: "null", .accessControlRequestMethod: "GET", .accessControlRequestHeaders: "x-one, a b, x-two"])
            #expect(preflight.status == .noContent)
            #expect(preflight.headerFields[.accessControlAllowOrigin] == "*")
            #expect(preflight.headerFields[.accessControlAllowHeaders] == "x-one, x-two", "only tokens are echoed")
        }
    }

    @Test func `a private-network preflight is allowed only when asked for`() async throws {
        let asking: HTTPFields = [
            .origin: Self.page, .accessControlRequestMethod: "GET",
            HTTPField.Name("Access-Control-Request-Private-Network")!: "true",
        ]
        let allowed = HTTPField.Name("Access-Control-Allow-Private-Network")!
        for allowsPrivateNetwork in [false, true] {
            let app = try application(CORSMiddleware(allowedOrigins: [Self.page], allowsPrivateNetwork: allowsPrivateNetwork))
            try await app.test(.live) { client in
                let preflight = try await client.execute("/items", method: .options, headerFields: asking)
                #expect(preflight.status == .noContent)
                #expect((preflight.headerFields[allowed] == "true") == allowsPrivateNetwork, "\(allowsPrivateNetwork)")
                let plain = try await client.execute(
                    "/items", method: .options, headerFields: [.origin: Self.page, .accessControlRequestMethod: "GET"])
                #expect(plain.headerFields[allowed] == nil, "only when the preflight asks")
            }
        }
    }

    @Test func `a predicate never sees null`() async throws {
        let app = try application(CORSMiddleware(allowedOrigins: .matching { _ in true }))
        try await app.test(.live) { client in
            let page = try await client.get("/items", headerFields: [.origin: "https://any.example", .authorization: "Bearer t"])
            #expect(page.headerFields[.accessControlAllowOrigin] == "https://any.example")
            let sandboxed = try await client.get("/items", headerFields: [.origin: "null", .authorization: "Bearer t"])
            #expect(sandboxed.headerFields[.accessControlAllowOrigin] == nil)
        }
    }

    @Test func `origins matched by a closure, and null only when allowed`() async throws {
        let app = try application(CORSMiddleware(allowedOrigins: .matching { $0.hasSuffix(".example.com") && $0.hasPrefix("https://") }))
        try await app.test(.live) { client in
            let cases = [
                ("https://a.example.com", true), ("http://a.example.com", false), ("null", false),
                ("https://evil.example/x.example.com", false), ("https://evil.example, https://a.example.com", false),
            ]
            for (origin, allowed) in cases {
                let response = try await client.get("/items", headerFields: [.origin: origin, .authorization: "Bearer t"])
                #expect((response.headerFields[.accessControlAllowOrigin] != nil) == allowed, "\(origin)")
            }
            // Two Origin fields are no browser's.
            var twice = HTTPFields([HTTPField(name: .origin, value: "https://a.example.com"), HTTPField(name: .authorization, value: "Bearer t")])
            twice.append(HTTPField(name: .origin, value: "https://b.example.com"))
            #expect(try await client.get("/items", headerFields: twice).headerFields[.accessControlAllowOrigin] == nil)
        }
    }

    @Test func `what counts as an origin`() {
        let origins = [
            "https://app.example.com", "http://localhost:5173", "http://127.0.0.1:8080", "http://[::1]:8080", "chrome-extension://abc",
            "http://a.example:443", "https://a.example:8443", "http://a:65535",
        ]
        let notOrigins = [
            "https://app.example.com/", "https://app.example.com/path", "app.example.com", "HTTPS://app.example.com",
            "https://App.example.com", "https://user@app.example.com", "https://app.example.com:", "https://app.example.com:123456",
            "https://", "https://[::1", "https://[zz]", "*", "", "https://a b",
            // What a browser never sends: a default port, port 0 or past 65535, a leading zero,
            // an empty label, a label that starts or ends with a hyphen.
            "https://a.example:443", "http://a.example:80", "http://a:0", "http://a:65536", "http://a:0080", "https://a..b",
            "https://.a", "https://a.", "https://-a.example", "https://a-.example",
        ]
        #expect(origins.filter { !CORSMiddleware.isOrigin($0) } == [])
        #expect(notOrigins.filter { CORSMiddleware.isOrigin($0) } == [])
    }
}
