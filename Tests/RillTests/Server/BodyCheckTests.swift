import HTTPTypes
import Rill
import RillTestSupport
import RillTesting
import Testing

/// `checkBeforeBody`: a request the route refuses is answered from its head, its body never
/// received — so anonymous uploads cannot fill the server's budget for bodies in flight, and a
/// client waiting for `100 Continue` gets the refusal instead.
@Suite struct BodyCheckTests {
    /// `/up/:name` needs `Authorization: Bearer good` before its body; every response passes
    /// through a middleware that marks it. The check records what it saw.
    private func router(seen: Shared<[String]> = Shared([]), checkedIDs: Shared<[String]> = Shared([])) -> Router {
        let router = Router()
        router.add(
            middleware: ClosureMiddleware { request, context, next in
                do {
                    var response = try await next(request, context)
                    response.headerFields[HTTPField.Name("x-middleware")!] = "yes"
                    return response
                } catch let error as HTTPError {
                    var response = error.response
                    response.headerFields[HTTPField.Name("x-middleware")!] = "yes"
                    return response
                }
            })
        let uploads = router.group("/up")
        uploads.checkBeforeBody { request, context in
            seen.update { $0.append("\(context.parameters["name"] ?? "-") body=\(request.body.count)") }
            checkedIDs.update { $0.append(context.requestID?.description ?? "none") }
            guard request.headerFields[.authorization] == "Bearer good" else {
                throw HTTPError(.unauthorized, message: "no", headerFields: [.wwwAuthenticate: "Bearer"])
            }
            context.storage[CheckedBy.self] = "the check of \(context.parameters["name"] ?? "-")"
        }
        uploads.post("/:name", maxBodyBytes: 1 << 20) { request, _ in "\(request.body.count)" }
        uploads.post("/:name/stored") { request, context in
            "\(context.storage[CheckedBy.self] ?? "nothing"), \(request.body.count) bytes"
        }
        router.get("/ping") { _, _ in "pong" }
        return router
    }

    /// What the check stores for the handler.
    private enum CheckedBy: RequestContext.Storage.Key { typealias Value = String }

    private func upload(_ path: String, bytes: Int, _ lines: [String]) -> String {
        (["POST \(path) HTTP/1.1", "Host: x", "Content-Length: \(bytes)"] + lines).joined(separator: "\r\n") + "\r\n\r\n"
    }

    @Test func `an unauthorized client waiting for 100 Continue gets the refusal, through the middleware, and the connection closes`() async throws {
        let seen = Shared<[String]>([])
        try await withLiveServer(router(seen: seen)) { _, port in
            let (text, closed) = try await converse(port: port) { connection in
                try connection.send(upload("/up/photo", bytes: 500_000, ["Expect: 100-continue"]))
                let response = try connection.readResponse(forRequestMethod: .post)
                let marked = response.headerFields[HTTPField.Name("x-middleware")!] ?? ""
                let summary = "\(response.status.code) \(response.headerFields[.wwwAuthenticate] ?? "") \(marked)"
                return (summary, connection.isClosedByPeer(within: .seconds(3)))
            }
            #expect(text == "401 Bearer yes")
            #expect(closed)
            #expect(seen.current == ["photo body=0"], "the check saw the path parameter and no body")
        }
    }

    @Test func `an authorized client is invited and its upload handled`() async throws {
        try await withLiveServer(router()) { _, port in
            let (interim, answer) = try await converse(port: port) { connection in
                try connection.send(upload("/up/photo", bytes: 300_000, ["Expect: 100-continue", "Authorization: Bearer good"]))
                let interim = try connection.receive(atLeast: 25)
                try connection.send([UInt8](repeating: 0x61, count: 300_000))
                return (String(decoding: interim, as: UTF8.self), try connection.readResponse(forRequestMethod: .post))
            }
            #expect(interim.hasPrefix("HTTP/1.1 100 Continue\r\n\r\n"))
            #expect(answer.status == .ok)
            #expect(String(decoding: answer.body, as: UTF8.self) == "300000")
        }
    }

    @Test func `the check and the handler see one request id, the response's`() async throws {
        let checkedIDs = Shared<[String]>([])
        try await withLiveServer(router(checkedIDs: checkedIDs)) { _, port in
            let answered = try await converse(port: port) { connection in
                var ids: [String] = []
                for size in [10, 20] {
                    try connection.send(upload("/up/photo", bytes: size, ["Authorization: Bearer good"]))
                    try connection.send([UInt8](repeating: 0x61, count: size))
                    let response = try connection.readResponse(forRequestMethod: .post)
                    ids.append(response.headerFields[RequestID.headerName] ?? "missing")
                    try connection.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
                    ids.append(try connection.readResponse(forRequestMethod: .get).headerFields[RequestID.headerName] ?? "missing")
                }
                return ids
            }
            let checked = checkedIDs.current
            #expect(checked.count == 2)
            #expect(answered.count == 4 && [answered[0], answered[2]] == checked, "\(answered) against \(checked)")
            #expect(Set(answered).count == 4, "every request its own id: \(answered)")
        }
    }

    @Test func `what the check stores reaches the handler, over HTTP 1 1 and HTTP 2`() async throws {
        try await withLiveServer(router()) { _, port in
            let overHTTP1 = try await converse(port: port) { connection in
                try connection.send(upload("/up/photo/stored", bytes: 5, ["Authorization: Bearer good"]) + "hello")
                let first = String(decoding: try connection.readResponse(forRequestMethod: .post).body, as: UTF8.self)
                // The next request on the connection starts with nothing stored.
                try connection.send("POST /up/other/stored HTTP/1.1\r\nHost: x\r\n\r\n")
                let second = String(decoding: try connection.readResponse(forRequestMethod: .post).body, as: UTF8.self)
                return [first, second]
            }
            #expect(overHTTP1 == ["the check of photo, 5 bytes", "nothing, 0 bytes"], "a bodyless request skips the check")
            let overHTTP2 = try await runCommand(
                [
                    "/usr/bin/curl", "-s", "--max-time", "10", "--http2-prior-knowledge", "-H", "Authorization: Bearer good",
                    "--data-binary", "hello!", "http://127.0.0.1:\(port)/up/photo/stored",
                ],
                timeout: .seconds(15))
            #expect(overHTTP2.standardOutput == "the check of photo, 6 bytes", "\(overHTTP2)")
        }
    }

    @Test func `anonymous uploads in flight do not take the budget from an authorized one`() async throws {
        // A budget of 100,000 bytes in flight: without the check, the first anonymous upload's
        // 60,000 bytes count and the authorized 90,000 would be refused with 503.
        let configuration = testConfiguration { $0.maxReceivingRequestBodyBytes = 100_000 }
        try await withLiveServer(router(), configuration: configuration) { _, port in
            let refused = try await onDedicatedThread { () -> [String] in
                var statuses: [String] = []
                var held: [RawConnection] = []
                for _ in 0..<4 {
                    let connection = try RawConnection(port: port)
                    // Head and 60,000 bytes of a 90,000-byte body, sent without waiting.
                    try connection.send(upload("/up/anon", bytes: 90_000, []) + String(repeating: "b", count: 60_000))
                    held.append(connection)
                }
                for connection in held {
                    statuses.append("\(try connection.readResponse(forRequestMethod: .post).status.code)")
                }
                let authorized = try RawConnection(port: port)
                try authorized.send(upload("/up/real", bytes: 90_000, ["Authorization: Bearer good"]) + String(repeating: "c", count: 90_000))
                statuses.append("\(try authorized.readResponse(forRequestMethod: .post).status.code)")
                for connection in held { connection.close() }
                return statuses
            }
            #expect(refused == ["401", "401", "401", "401", "200"])
        }
    }

    @Test func `an upload pipelined behind another request is checked too, before its body counts`() async throws {
        // As above, but each anonymous upload follows a GET in the same write: it is checked
        // once the GET is answered, and its bytes never count.
        let configuration = testConfiguration { $0.maxReceivingRequestBodyBytes = 100_000 }
        try await withLiveServer(router(), configuration: configuration) { _, port in
            let statuses = try await onDedicatedThread { () -> [String] in
                var statuses: [String] = []
                var held: [RawConnection] = []
                for _ in 0..<4 {
                    let connection = try RawConnection(port: port)
                    try connection.send(
                        "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n" + upload("/up/anon", bytes: 90_000, ["X-Request-ID: anon-7"])
                            + String(repeating: "b", count: 60_000))
                    held.append(connection)
                }
                for connection in held {
                    let answers = try connection.readResponses(2, forRequestMethod: .post)
                    statuses.append(answers.map { "\($0.status.code)" }.joined(separator: "+"))
                    statuses.append(answers[1].headerFields[HTTPField.Name("x-request-id")!] ?? "no id")
                }
                let authorized = try RawConnection(port: port)
                try authorized.send(upload("/up/real", bytes: 90_000, ["Authorization: Bearer good"]) + String(repeating: "c", count: 90_000))
                statuses.append("\(try authorized.readResponse(forRequestMethod: .post).status.code)")
                for connection in held { connection.close() }
                return statuses
            }
            #expect(statuses == Array(repeating: ["200+401", "anon-7"], count: 4).flatMap { $0 } + ["200"])
        }
    }

    @Test func `an upload whose body is arriving when shutdown begins is received and answered, then the connection closes`() async throws {
        let app = try Application(router: router(), configuration: testConfiguration(), logger: quietLogger)
        let port = try await app.start().port
        let connection = try RawConnection(port: port)
        defer { connection.close() }
        try await onDedicatedThread {
            try connection.send(upload("/up/late", bytes: 100_000, ["Authorization: Bearer good"]) + String(repeating: "d", count: 50_000))
        }
        try await Task.sleep(for: .milliseconds(200))
        let stopping = Task { await app.shutdown() }
        try await Task.sleep(for: .milliseconds(200))
        let answer = try await onDedicatedThread { () -> TestResponse in
            try connection.send(String(repeating: "d", count: 50_000))
            return try connection.readResponse(forRequestMethod: .post)
        }
        #expect(answer.status == .ok)
        #expect(String(decoding: answer.body, as: UTF8.self) == "100000")
        #expect(answer.headerFields[.connection] == "close")
        await stopping.value
    }

    @Test func `a client waiting for 100 Continue on a path no route takes gets the 404, not an invitation`() async throws {
        try await withLiveServer(router()) { _, port in
            let answer = try await converse(port: port) { connection in
                try connection.send(upload("/nowhere", bytes: 1_000, ["Expect: 100-continue"]))
                return try connection.readResponse(forRequestMethod: .post)
            }
            #expect(answer.status == .notFound)
            #expect(answer.headerFields[HTTPField.Name("x-middleware")!] == "yes", "the router's middleware saw the 404")
        }
    }
}
