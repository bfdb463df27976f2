import Rill
import RillTesting
import Testing

/// What a streaming handler saw, for the test to inspect.
private struct StreamRecord: Sendable {
    var chunksWritten = 0
    var bytesWritten = 0
    var maxQueuedBytes = 0
    var ending: String?
}

/// Streamed response bodies: chunked framing, disconnects and backpressure.
@Suite struct StreamingTests {
    @Test func `a streamed body goes out chunked and arrives whole`() async throws {
        let router = Router()
        router.get("/count") { _, context in
            Response(
                headerFields: [.contentType: "text/plain"],
                body: ResponseBody { writer in
                    for number in 1...10 {
                        try await writer.write("line \(number)\n")
                        if number % 3 == 0 { try await context.eventLoop.sleep(for: .milliseconds(5)) }
                    }
                })
        }
        try await withLiveServer(router) { _, port in
            let (raw, response) = try await converse(port: port) { connection in
                try connection.send(request("/count"))
                let response = try connection.readResponse()
                try connection.send(request("/count", ["Connection: close"]))
                return (try connection.receiveUntilClose(), response)
            }
            #expect(response.status == .ok)
            #expect(response.headerFields[.transferEncoding] == "chunked")
            #expect(response.headerFields[.contentLength] == nil)
            #expect(response.bodyText == (1...10).map { "line \($0)\n" }.joined())
            // On the wire: one chunk per write, then the last chunk.
            let text = String(decoding: raw, as: UTF8.self)
            #expect(text.contains("\r\n\r\n7\r\nline 1\n\r\n7\r\nline 2\n\r\n"))
            #expect(text.contains("8\r\nline 10\n\r\n0\r\n\r\n"))
            #expect(text.hasSuffix("0\r\n\r\n"))
        }
    }

    @Test func `an HTTP 1.0 client gets a streamed body delimited by the close`() async throws {
        let router = Router()
        router.get("/count") { _, _ in
            Response(
                body: ResponseBody { writer in
                    for number in 1...3 { try await writer.write("\(number)") }
                })
        }
        try await withLiveServer(router) { _, port in
            let response = try await converse(port: port) { connection in
                try connection.send("GET /count HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                return try connection.readResponse()
            }
            #expect(response.headerFields[.transferEncoding] == nil)
            #expect(response.headerFields[.connection] == "close")
            #expect(response.bodyText == "123")
        }
    }

    @Test func `a client that disconnects mid-stream ends the handler`() async throws {
        let record = Shared(StreamRecord())
        let router = Router()
        router.get("/endless") { _, context in
            Response(
                body: ResponseBody { writer in
                    do {
                        while true {
                            try await writer.write("tick\n")
                            record.update { $0.chunksWritten += 1 }
                            try await context.eventLoop.sleep(for: .milliseconds(10))
                        }
                    } catch {
                        record.update { $0.ending = "\(type(of: error))" }
                        throw error
                    }
                })
        }
        try await withLiveServer(router) { app, port in
            let received = try await onDedicatedThread { () -> [UInt8] in
                let connection = try RawConnection(port: port)
                try connection.send(request("/endless"))
                let bytes = try connection.receive(atLeast: 200)
                connection.close()
                return bytes
            }
            #expect(String(decoding: received, as: UTF8.self).contains("tick\n"))
            #expect(await eventually { record.current.ending != nil }, "the handler kept streaming to nobody")
            #expect(["ConnectionClosedError", "CancellationError"].contains(record.current.ending ?? ""))
            let writtenAtEnd = record.current.chunksWritten
            try await Task.sleep(for: .milliseconds(100))
            #expect(record.current.chunksWritten == writtenAtEnd)
            #expect(await eventually { await app.connectionCount() == 0 })
        }
    }

    @Test func `a client that resets mid-stream ends the handler`() async throws {
        let record = Shared(StreamRecord())
        let router = Router()
        router.get("/endless") { _, context in
            Response(
                body: ResponseBody { writer in
                    do {
                        while true {
                            try await writer.write([UInt8](repeating: 0x61, count: 1024))
                            try await context.eventLoop.sleep(for: .milliseconds(2))
                        }
                    } catch {
                        record.update { $0.ending = "\(type(of: error))" }
                        throw error
                    }
                })
        }
        try await withLiveServer(router) { app, port in
            try await onDedicatedThread {
                let connection = try RawConnection(port: port)
                try connection.send(request("/endless"))
                _ = try connection.receive(atLeast: 4096)
                connection.reset()
            }
            #expect(await eventually { record.current.ending != nil })
            #expect(await eventually { await app.connectionCount() == 0 })
        }
    }

    @Test func `a slow reader suspends the writer instead of queueing everything`() async throws {
        let chunkBytes = 64 * 1024
        let totalBytes = 20 * 1024 * 1024
        let configuration = testConfiguration()
        let highWaterMark = configuration.writeHighWaterMarkBytes
        let record = Shared(StreamRecord())
        let router = Router()
        router.get("/big") { _, _ in
            Response(
                headerFields: [.contentType: "application/octet-stream"],
                body: ResponseBody { writer in
                    for index in 0..<(totalBytes / chunkBytes) {
                        try await writer.write([UInt8](repeating: UInt8(index % 251), count: chunkBytes))
                        let queued = writer.queuedBytes
                        record.update {
                            $0.chunksWritten += 1
                            $0.bytesWritten += chunkBytes
                            $0.maxQueuedBytes = max($0.maxQueuedBytes, queued)
                        }
                    }
                    record.update { $0.ending = "finished" }
                })
        }
        try await withLiveServer(router, configuration: configuration) { _, port in
            let connection = try await onDedicatedThread { () -> RawConnection in
                let connection = try RawConnection(port: port, timeout: .seconds(30), receiveBufferBytes: 256 * 1024)
                try connection.send(request("/big"))
                return connection
            }
            // Nobody reads for 500 ms: the kernel buffers fill, then the writer must wait.
            try await Task.sleep(for: .milliseconds(500))
            let duringPause = record.current
            #expect(duringPause.ending == nil, "all 20 MiB were accepted without the client reading")
            #expect(duringPause.bytesWritten < totalBytes)
            #expect(duringPause.bytesWritten > 0)
            let response = try await onDedicatedThread {
                defer { connection.close() }
                return try connection.readResponse()
            }
            #expect(response.status == .ok)
            #expect(response.body.count == totalBytes)
            let intact = stride(from: 0, to: response.body.count, by: chunkBytes).allSatisfy { offset in
                let expected = UInt8((offset / chunkBytes) % 251)
                return response.body[offset] == expected && response.body[offset + chunkBytes - 1] == expected
                    && response.body[offset..<offset + chunkBytes].allSatisfy { $0 == expected }
            }
            #expect(intact, "the body arrived corrupted or out of order")
            let final = record.current
            #expect(final.ending == "finished")
            #expect(final.chunksWritten == totalBytes / chunkBytes)
            // What one chunk's framing adds, plus slack for the head.
            let slack = 1024
            #expect(final.maxQueuedBytes <= highWaterMark + chunkBytes + slack, "queued \(final.maxQueuedBytes) bytes")
        }
    }

    @Test func `a streamed body that fails midway ends without the last chunk and closes`() async throws {
        struct Broken: Error {}
        let router = Router()
        router.get("/broken") { _, _ in
            Response(
                body: ResponseBody { writer in
                    try await writer.write("partial")
                    throw Broken()
                })
        }
        try await withLiveServer(router) { _, port in
            let (raw, outcome) = try await converse(port: port) { connection -> ([UInt8], String) in
                try connection.send(request("/broken"))
                let raw = try connection.receiveUntilClose()
                var reader = HTTPResponseReader()
                reader.append(raw)
                do {
                    _ = try reader.next()
                    _ = try reader.finish()
                    return (raw, "complete")
                } catch {
                    return (raw, "\(error)")
                }
            }
            let text = String(decoding: raw, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(text.hasSuffix("7\r\npartial\r\n"), "the truncation must be visible: no last chunk")
            #expect(outcome == "\(HTTPResponseReaderError.unexpectedEndOfInput)")
        }
    }

    @Test func `a client that pipelines without reading does not make the server queue every response`() async throws {
        // 64 pipelined requests for 512 KiB each (32 MiB) and a client that reads nothing for
        // 500 ms: the kernel's buffers take a few MiB; the server must not queue the rest in
        // memory by handling request after request.
        let responseBytes = 512 * 1024
        let requestCount = 64
        let handled = Shared(0)
        let router = Router()
        router.get("/blob/:n") { _, context in
            handled.update { $0 += 1 }
            let n = Int(try context.parameter("n")) ?? 0
            return [UInt8](repeating: UInt8(n % 251), count: responseBytes)
        }
        try await withLiveServer(router) { _, port in
            let connection = try await onDedicatedThread { () -> RawConnection in
                let connection = try RawConnection(port: port, timeout: .seconds(30), receiveBufferBytes: 256 * 1024)
                try connection.send((0..<requestCount).map { request("/blob/\($0)") }.joined())
                return connection
            }
            try await Task.sleep(for: .milliseconds(500))
            let handledDuringPause = handled.current
            let responses = try await onDedicatedThread {
                defer { connection.close() }
                return try connection.readResponses(requestCount)
            }
            #expect(responses.count == requestCount)
            #expect(
                responses.enumerated().allSatisfy { index, response in
                    response.body.count == responseBytes && response.body.allSatisfy { $0 == UInt8(index % 251) }
                })
            // 20 × 512 KiB = 10 MiB: more than the kernel holds, far less than all 32 MiB.
            #expect(handledDuringPause <= 20, "\(handledDuringPause) responses were produced for a client that read nothing")
        }
    }
}
