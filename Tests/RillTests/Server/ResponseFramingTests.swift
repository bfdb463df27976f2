import Rill
import RillTesting
import Synchronization
import Testing

/// The server owns response framing: whatever a handler returns, the bytes on the wire delimit
/// exactly one response, so the next response on the connection is read correctly.
@Suite struct ResponseFramingTests {
    private func framingRouter() -> Router {
        let router = Router()
        router.get("/n/:n") { _, context in try context.parameter("n") }
        router.get("/own-framing") { _, _ in
            Response(
                headerFields: [.contentType: "text/plain", .contentLength: "999", .transferEncoding: "chunked"],
                body: .text("hello"))
        }
        router.get("/close-after") { _, _ in
            Response(headerFields: [.connection: "close"], body: .text("last"))
        }
        router.get("/stream") { _, _ in
            Response(body: ResponseBody { writer in try await writer.write("streamed") })
        }
        router.get("/text") { _, _ in "grüße 👋" }  // 7 characters, 12 bytes of UTF-8
        router.get("/not-modified") { _, _ in
            Response(status: .notModified, headerFields: [.eTag: "\"v1\""], body: .text("must not be sent"))
        }
        return router
    }

    /// Sends `first` then a pipelined `GET /n/after`, and reads both responses.
    private func pipelined(_ first: String, method: HTTPRequest.Method = .get, port: Int) async throws -> [TestResponse] {
        try await converse(port: port) { connection in
            try connection.send(first + request("/n/after"))
            return [try connection.readResponse(forRequestMethod: method), try connection.readResponse()]
        }
    }

    @Test func `framing fields a handler sets are replaced by the server's own`() async throws {
        try await withLiveServer(framingRouter()) { _, port in
            let responses = try await pipelined(request("/own-framing"), port: port)
            let response = responses[0]
            #expect(response.bodyText == "hello")
            #expect(response.headerFields[values: .contentLength] == ["5"])
            #expect(response.headerFields[.transferEncoding] == nil)
            #expect(response.headerFields[values: .connection].allSatisfy { $0 != "close" })
            #expect(responses[1].bodyText == "after")
        }
    }

    @Test func `a text body is framed by its UTF-8 length, and HEAD gets the length without it`() async throws {
        try await withLiveServer(framingRouter()) { _, port in
            let responses = try await pipelined(request("/text"), port: port)
            #expect(responses[0].bodyText == "grüße 👋")
            #expect(responses[0].body.count == 12)
            #expect(responses[0].headerFields[values: .contentLength] == ["12"])
            #expect(responses[1].bodyText == "after")
            let head = try await pipelined(request("/text", method: "HEAD"), method: .head, port: port)
            #expect(head[0].headerFields[values: .contentLength] == ["12"])
            #expect(head[0].body.isEmpty)
            #expect(head[1].bodyText == "after")
        }
    }

    @Test func `requests a handler kept keep their own fields while later ones on the connection are parsed`() async throws {
        // The server reuses a finished request's field storage for the next head only when
        // nothing else holds it: what a handler kept must never change.
        let kept = Mutex<[Request]>([])
        let router = Router()
        let tag = HTTPField.Name("x-tag")!
        router.get("/keep") { request, _ in
            kept.withLock { $0.append(request) }
            return request.headerFields[tag] ?? "-"
        }
        router.get("/async-keep") { request, context in
            try await context.eventLoop.sleep(for: .milliseconds(1))
            kept.withLock { $0.append(request) }
            return request.headerFields[tag] ?? "-"
        }
        try await withLiveServer(router) { _, port in
            let answers = try await converse(port: port) { connection in
                var answers: [String] = []
                for index in 0..<6 {
                    let path = index % 2 == 0 ? "/keep" : "/async-keep"
                    try connection.send(request(path, ["X-Tag: tag-\(index)", "X-Filler-\(index): \(index)"]))
                    answers.append(try connection.readResponse().bodyText)
                }
                return answers
            }
            #expect(answers == (0..<6).map { "tag-\($0)" })
        }
        let requests = kept.withLock { $0 }
        #expect(requests.count == 6)
        for (index, request) in requests.enumerated() {
            #expect(request.headerFields[tag] == "tag-\(index)")
            #expect(request.headerFields.count == 3)  // Host, X-Tag, X-Filler-n
            #expect(request.headerFields[HTTPField.Name("x-filler-\(index)")!] == "\(index)")
        }
    }

    @Test func `a handler's Connection close is honoured once, and the server closes after it`() async throws {
        try await withLiveServer(framingRouter()) { _, port in
            let (response, rest) = try await converse(port: port) { connection in
                try connection.send(request("/close-after") + request("/n/after"))
                let response = try connection.readResponse()
                return (response, try connection.receiveUntilClose())
            }
            #expect(response.bodyText == "last")
            #expect(response.headerFields[values: .connection] == ["close"])
            // RFC 9112 §9.6: nothing after the response that carried "close".
            #expect(rest.isEmpty, "answered a request after close: \(String(decoding: rest, as: UTF8.self))")
        }
    }

    @Test func `HEAD on a streamed route sends the head only and the connection carries on`() async throws {
        try await withLiveServer(framingRouter()) { _, port in
            let responses = try await pipelined(request("/stream", method: "HEAD"), method: .head, port: port)
            #expect(responses[0].status == .ok)
            #expect(responses[0].body.isEmpty)
            #expect(responses[1].bodyText == "after")
        }
    }

    @Test func `a 304 never carries the body a handler gave it`() async throws {
        try await withLiveServer(framingRouter()) { _, port in
            let responses = try await pipelined(request("/not-modified"), port: port)
            #expect(responses[0].status == .notModified)
            #expect(responses[0].headerFields[.eTag] == "\"v1\"")
            #expect(responses[0].body.isEmpty)
            #expect(responses[1].status == .ok)
            #expect(responses[1].bodyText == "after")
        }
    }

    @Test func `a request body sent to an unknown route is consumed, keeping the connection in step`() async throws {
        try await withLiveServer(framingRouter()) { _, port in
            let responses = try await pipelined(
                request("/nowhere", method: "POST", body: "GET /n/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"), port: port)
            #expect(responses.map(\.status.code) == [404, 200])
            #expect(responses[1].bodyText == "after")
        }
    }
}
