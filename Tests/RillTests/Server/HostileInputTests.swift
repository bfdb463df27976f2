import Rill
import RillTesting
import Testing

private func hostileRouter() -> Router {
    let router = Router()
    router.get("/") { _, _ in "ok" }
    router.post("/upload") { request, _ in "\(request.body.count)" }
    router.post("/small", maxBodyBytes: 10) { request, _ in "\(request.body.count)" }
    return router
}

/// What one hostile conversation produced.
private struct Rejection: Sendable {
    var response: TestResponse
    var closedByServer: Bool
    /// Responses (beyond the first) that arrived before the close: must be none.
    var extraBytes: [UInt8]
}

/// Malformed and abusive requests: each gets one error response with `Connection: close`, the
/// server closes, and nothing after the bad request is processed.
@Suite struct HostileInputTests {
    /// Sends `input`, then a valid request that must never be answered, and collects the result.
    private func reject(_ input: [UInt8], port: Int) async throws -> Rejection {
        try await converse(port: port) { connection in
            try connection.send(input)
            // A request smuggled behind the bad one: after a framing error it must be ignored.
            try? connection.send(request("/"))
            let response = try connection.readResponse()
            let rest = try connection.receiveUntilClose()
            return Rejection(response: response, closedByServer: true, extraBytes: rest)
        }
    }

    private func expectRejected(
        _ input: String, status: Int, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        try await expectRejected(Array(input.utf8), status: status, sourceLocation: sourceLocation)
    }

    private func expectRejected(
        _ input: [UInt8], status: Int, router: Router = hostileRouter(), sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        try await withLiveServer(router) { app, port in
            let rejection = try await reject(input, port: port)
            let response = rejection.response
            #expect(response.status.code == status, "\(response)", sourceLocation: sourceLocation)
            #expect(response.headerFields[.connection] == "close", sourceLocation: sourceLocation)
            #expect(response.headerFields[.contentType] == "application/json; charset=utf-8", sourceLocation: sourceLocation)
            #expect((try? response.decode(ErrorBody.self).error.status) == status, sourceLocation: sourceLocation)
            #expect(rejection.closedByServer, sourceLocation: sourceLocation)
            #expect(rejection.extraBytes.isEmpty, "bytes after the error response", sourceLocation: sourceLocation)
            #expect(await eventually { await app.connectionCount() == 0 }, sourceLocation: sourceLocation)
        }
    }

    @Test func `deeply nested JSON is a 400, not a crash`() async throws {
        let router = Router()
        router.post("/json") { request, _ in try request.decode([String: String].self) }
        try await withLiveServer(router) { _, port in
            for body in [String(repeating: "[", count: 500_000), String(repeating: "{\"a\":", count: 200_000)] {
                let response = try await converse(port: port) { connection in
                    try connection.send(request("/json", method: "POST", ["Content-Type: application/json"], body: body))
                    return try connection.readResponse()
                }
                #expect(response.status == .badRequest)
            }
            // The loop is still serving.
            let response = try await converse(port: port) { connection in
                try connection.send(request("/json", method: "POST", ["Content-Type: application/json"], body: "{}"))
                return try connection.readResponse()
            }
            #expect(response.status == .ok)
        }
    }

    @Test func `an error answering a HEAD request declares its length and sends no body`() async throws {
        let heads = [
            ("HEAD / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
            ("HEAD / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400),
            ("HEAD / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 17 * 1024))\r\n\r\n", 431),
            ("HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413),
            ("HEAD /\(String(repeating: "t", count: 9 * 1024)) HTTP/1.1\r\nHost: x\r\n\r\n", 414),
            ("HEAD / HTTP/3.0\r\nHost: x\r\n\r\n", 505),
            ("HEAD / HTTP/1.x\r\nHost: x\r\n\r\n", 400),
        ]
        try await withLiveServer(hostileRouter()) { _, port in
            for (input, status) in heads {
                let (response, rest) = try await converse(port: port) { connection in
                    try connection.send(Array(input.utf8))
                    let response = try connection.readResponse(forRequestMethod: .head)
                    return (response, try connection.receiveUntilClose())
                }
                #expect(response.status.code == status)
                #expect(response.headerFields[.connection] == "close")
                #expect(Int(response.headerFields[.contentLength] ?? "") ?? 0 > 0, "the length a GET's error would have")
                #expect(rest.isEmpty, "no body after the head: \(String(decoding: rest, as: UTF8.self))")
            }
        }
    }

    @Test func `a malformed request line is a 400`() async throws {
        try await expectRejected("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", status: 400)
    }

    @Test func `whitespace between a header name and its colon is a 400`() async throws {
        try await expectRejected("GET / HTTP/1.1\r\nHost : x\r\n\r\n", status: 400)
    }

    @Test func `an HTTP 1.1 request without Host is a 400`() async throws {
        try await expectRejected("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", status: 400)
    }

    @Test func `headers larger than 16 KiB are a 431`() async throws {
        try await expectRejected("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 17 * 1024))\r\n\r\n", status: 431)
    }

    @Test func `a head that never ends is a 431 once it passes 16 KiB`() async throws {
        try await expectRejected("GET / HTTP/1.1\r\nHost: x\r\nX-Endless: \(String(repeating: "a", count: 20 * 1024))", status: 431)
    }

    @Test func `a request target longer than 8 KiB is a 414`() async throws {
        try await expectRejected("GET /\(String(repeating: "t", count: 9 * 1024)) HTTP/1.1\r\nHost: x\r\n\r\n", status: 414)
    }

    @Test func `more than 100 header fields are a 431`() async throws {
        let fields = (0..<101).map { "X-Field-\($0): v\r\n" }.joined()
        try await expectRejected("GET / HTTP/1.1\r\nHost: x\r\n\(fields)\r\n", status: 431)
    }

    @Test func `an obsolete folded header line is a 400`() async throws {
        try await expectRejected("GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n", status: 400)
    }

    @Test func `a Content-Length that is not a number is a 400`() async throws {
        try await expectRejected("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", status: 400)
        try await expectRejected("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n", status: 400)
    }

    @Test func `Transfer-Encoding chunked twice is a 400, another coding before chunked a 501`() async throws {
        try await expectRejected("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", status: 400)
        try await expectRejected("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", status: 501)
    }

    @Test func `a body larger than the 1 MiB default is a 413`() async throws {
        try await expectRejected("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\nsome of it", status: 413)
    }

    @Test func `a chunked body that grows past the limit is a 413`() async throws {
        let chunk = String(repeating: "z", count: 64 * 1024)
        var input = "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        for _ in 0..<17 { input += "10000\r\n\(chunk)\r\n" }
        try await expectRejected(input, status: 413)
    }

    @Test func `a body of exactly the default limit is accepted`() async throws {
        try await withLiveServer(hostileRouter()) { _, port in
            let response = try await converse(port: port) { connection in
                try connection.send(request("/upload", method: "POST", body: String(repeating: "b", count: 1024 * 1024)))
                return try connection.readResponse()
            }
            #expect(response.status == .ok)
            #expect(response.bodyText == "1048576")
        }
    }

    @Test func `a route's own smaller body limit is a 413 beyond it`() async throws {
        try await expectRejected(request("/small", method: "POST", body: "eleven byte"), status: 413)
        try await withLiveServer(hostileRouter()) { _, port in
            let response = try await converse(port: port) { connection in
                try connection.send(request("/small", method: "POST", body: "ten bytes!"))
                return try connection.readResponse()
            }
            #expect(response.status == .ok)
            #expect(response.bodyText == "10")
        }
    }

    @Test func `Content-Length together with Transfer-Encoding is a 400`() async throws {
        try await expectRejected(
            "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            status: 400)
    }

    @Test func `two different Content-Length values are a 400`() async throws {
        try await expectRejected("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", status: 400)
    }

    @Test func `Transfer-Encoding gzip is a 400 (chunked not final), gzip then chunked a 501`() async throws {
        try await expectRejected("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", status: 400)
        try await expectRejected("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", status: 501)
    }

    @Test func `the HTTP 2 connection preface is a 505 when prior knowledge is switched off`() async throws {
        var configuration = testConfiguration()
        configuration.http2.acceptsPriorKnowledge = false
        try await withLiveServer(hostileRouter(), configuration: configuration) { _, port in
            let rejection = try await reject(Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8), port: port)
            #expect(rejection.response.status.code == 505)
            #expect(rejection.response.headerFields[.connection] == "close")
        }
    }

    @Test func `the HTTP 2 connection preface is answered with HTTP 2 SETTINGS`() async throws {
        try await withLiveServer(hostileRouter()) { _, port in
            let reply = try await converse(port: port) { connection in
                try connection.send(Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8))
                return try connection.receive(atLeast: 9)
            }
            // A frame header: 24-bit length, type 0x4 (SETTINGS), no flags, stream 0.
            #expect(reply.count >= 9)
            #expect(reply[3] == 0x4 && reply[4] == 0 && reply[5..<9].allSatisfy { $0 == 0 }, "\(reply)")
        }
    }

    @Test func `HTTP 1.2 is served as HTTP 1.1, HTTP 3.0 is a 505`() async throws {
        // RFC 9110 §6.2: a later minor version of a major one the server speaks is read as the
        // highest it conforms to.
        try await withLiveServer(hostileRouter()) { _, port in
            let connection = try RawConnection(port: port)
            defer { connection.close() }
            try connection.send("GET / HTTP/1.2\r\nHost: x\r\n\r\n")
            let response = try connection.readResponse()
            #expect(response.status == .ok && response.bodyText == "ok")
            #expect(response.version == .http1_1)
            // An HTTP/1.0 request is answered as HTTP/1.1 too (RFC 9110 §2.5), and closed.
            let old = try RawConnection(port: port)
            defer { old.close() }
            try old.send("GET / HTTP/1.0\r\n\r\n")
            let answer = try old.readResponse()
            #expect(answer.version == .http1_1 && answer.headerFields[.connection] == "close")
        }
        try await expectRejected("GET / HTTP/3.0\r\nHost: x\r\n\r\n", status: 505)
    }

    @Test func `malformed chunked framing is a 400`() async throws {
        try await expectRejected("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\nhello\r\n0\r\n\r\n", status: 400)
    }

    @Test func `garbage bytes are a 400 and the server keeps serving other clients`() async throws {
        let garbage: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03, 0x00, 0xFF, 0x0D, 0x0A, 0x0D, 0x0A]
        try await withLiveServer(hostileRouter()) { app, port in
            let rejection = try await reject(garbage, port: port)
            #expect(rejection.response.status == .badRequest)
            #expect(rejection.response.headerFields[.connection] == "close")
            #expect(rejection.extraBytes.isEmpty)
            // Random binary noise from several clients at once, then a normal client.
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<5 {
                let noise = (0..<512).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let response = try await converse(port: port) { connection -> TestResponse? in
                    try connection.send(noise)
                    return try? connection.readResponse()
                }
                if let response { #expect([400, 431, 501, 505].contains(response.status.code), "\(response)") }
            }
            let fine = try await converse(port: port) { connection in
                try connection.send(request("/"))
                return try connection.readResponse()
            }
            #expect(fine.status == .ok)
            #expect(fine.bodyText == "ok")
            #expect(await eventually { await app.connectionCount() == 0 })
        }
    }

    @Test func `a client that resets mid-request does not disturb the server`() async throws {
        try await withLiveServer(hostileRouter()) { app, port in
            try await onDedicatedThread {
                let connection = try RawConnection(port: port)
                try connection.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhalf")
                connection.reset()
            }
            #expect(await eventually { await app.connectionCount() == 0 })
            let fine = try await converse(port: port) { connection in
                try connection.send(request("/"))
                return try connection.readResponse()
            }
            #expect(fine.bodyText == "ok")
        }
    }
}
