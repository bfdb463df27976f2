import Foundation
import HTTPTypes
import RillCore
import RillTesting
import Testing

@testable import Rill

#if canImport(Glibc)
    import Glibc
#endif

/// What a file body handed to the connection, for the test to inspect.
private struct Record: Sendable {
    var bytesWritten = 0
    var writes = 0
    var maxQueuedBytes = 0
    var finished = false
}

/// Forwards a body's writes to the connection and records them: how many bytes the file body
/// produced, and how many were queued for the client at most.
private final class RecordingSink: ResponseBodySink, @unchecked Sendable {
    let inner: any ResponseBodySink
    let record: Shared<Record>

    init(_ inner: any ResponseBodySink, record: Shared<Record>) {
        self.inner = inner
        self.record = record
    }

    var isClosed: Bool { inner.isClosed }
    var queuedBytes: Int { inner.queuedBytes }
    var isShuttingDown: Bool { inner.isShuttingDown }
    var eventStreamDefaults: EventStreamConfiguration { inner.eventStreamDefaults }

    func writeBodyChunk(_ bytes: [UInt8]) async throws {
        // Counted before the write: its bytes may reach the client before this task resumes.
        record.update {
            $0.bytesWritten += bytes.count
            $0.writes += 1
        }
        try await inner.writeBodyChunk(bytes)
        let queued = inner.queuedBytes
        record.update { $0.maxQueuedBytes = max($0.maxQueuedBytes, queued) }
    }

    func waitUntilWritable() async throws { try await inner.waitUntilWritable() }
    func beginEventStream(_ configuration: EventStreamConfiguration) { inner.beginEventStream(configuration) }
    func writeEvents(_ bytes: [UInt8]) { inner.writeEvents(bytes) }
    func endEventStream() { inner.endEventStream() }
    func disconnectSlowClient() { inner.disconnectSlowClient() }
}

/// Large files: streamed in chunks under the writer's backpressure, never loaded whole, never
/// blocking the loop; and the declared-length bodies they ride on.
@Suite struct FileStreamingTests {
    @Test func `a large file to a slow reader is read only as fast as the client takes it`() async throws {
        // 20 blocks of 251 × 4,096 bytes (about 20 MB): byte i is i % 251 across block borders.
        let block = Data((0..<(251 * 4096)).map { UInt8($0 % 251) })
        let totalBytes = 20 * block.count
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rill-big-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(FileManager.default.createFile(atPath: directory + "/big.bin", contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/big.bin"))
        for _ in 0..<20 { try handle.write(contentsOf: block) }
        try handle.close()

        let configuration = testConfiguration()
        let files = try FileServer(directory: directory)
        let record = Shared(Record())
        let router = Router()
        router.get("/ping") { _, _ in "pong" }
        router.get("/big") { request, context in
            try await Self.recorded(files.response(to: request, context: context, file: "big.bin"), into: record)
        }
        try await withLiveServer(router, configuration: configuration) { _, port in
            let connection = try await onDedicatedThread { () -> RawConnection in
                let connection = try RawConnection(port: port, timeout: .seconds(30), receiveBufferBytes: 256 * 1024)
                try connection.send(request("/big"))
                return connection
            }
            // Nobody reads: the kernel's buffers fill, then the file body must wait.
            try await Task.sleep(for: .milliseconds(500))
            let duringPause = record.current
            #expect(!duringPause.finished)
            #expect(duringPause.bytesWritten > 0)
            #expect(duringPause.bytesWritten < 8 * 1024 * 1024, "read \(duringPause.bytesWritten) bytes for a client that reads nothing")
            // Meanwhile the loop answers others at once.
            #expect(try await get(port, "/ping") == "pong")

            // Read and check the body as it comes, on a thread of its own, keeping none of it.
            let (head, received, intact) = try await onDedicatedThread { () -> (String, Int, Bool) in
                defer { connection.close() }
                var buffer: [UInt8] = []
                var headEnd: Int?
                while headEnd == nil {
                    let more = try connection.receive(atLeast: 1)
                    guard !more.isEmpty else { break }
                    buffer += more
                    headEnd = buffer.indices.dropLast(3).first { buffer[$0..<($0 + 4)].elementsEqual("\r\n\r\n".utf8) }
                }
                guard let headEnd else { return (String(decoding: buffer, as: UTF8.self), 0, false) }
                var received = 0
                var intact = true
                var piece = Array(buffer[(headEnd + 4)...])
                // Each pass takes at least one byte or ends: at most `totalBytes` passes.
                while !piece.isEmpty {
                    for byte in piece {
                        intact = intact && byte == UInt8(received % 251)
                        received += 1
                    }
                    piece = received < totalBytes ? try connection.receive(atLeast: 1) : []
                }
                return (String(decoding: buffer[..<headEnd], as: UTF8.self), received, intact)
            }
            #expect(head.hasPrefix("HTTP/1.1 200"))
            #expect(head.lowercased().contains("content-length: \(totalBytes)"))
            #expect(received == totalBytes)
            #expect(intact, "the body arrived corrupted")
            // The handler finishes after its last bytes left, maybe after the client read them.
            #expect(await eventually { record.current.finished })
            let final = record.current
            let chunkBytes = FileServer.Configuration.defaultReadChunkBytes
            #expect(final.writes == (totalBytes + chunkBytes - 1) / chunkBytes)
            #expect(
                final.maxQueuedBytes <= configuration.writeHighWaterMarkBytes + FileServer.Configuration.defaultReadChunkBytes,
                "queued \(final.maxQueuedBytes) bytes")
        }
    }

    @Test func `the read chunk size sets the size of each write`() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rill-chunk-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data((0..<10_000).map { UInt8($0 % 251) }).write(to: URL(fileURLWithPath: directory + "/f.bin"))
        let files = try FileServer(directory: directory, configuration: .init(readChunkBytes: 1000))
        let record = Shared(Record())
        let router = Router()
        router.get("/f") { request, context in
            try await Self.recorded(files.response(to: request, context: context, file: "f.bin"), into: record)
        }
        try await withLiveServer(router) { _, port in
            let response = try await converse(port: port) { connection in
                try connection.send(request("/f", ["Range: bytes=500-"]))
                return try connection.readResponse()
            }
            #expect(response.body == (500..<10_000).map { UInt8($0 % 251) })
            #expect(record.current.writes == 10, "9,500 bytes in 1,000-byte reads")
        }
    }

    @Test func `a declared-length body is sent with Content-Length and must keep its promise`() async throws {
        let router = Router()
        router.get("/exact") { _, _ in
            Response(
                body: ResponseBody(byteCount: 10) { writer in
                    try await writer.write("01234")
                    try await writer.write("56789")
                })
        }
        router.get("/short") { _, _ in Response(body: ResponseBody(byteCount: 10) { writer in try await writer.write("01234") }) }
        router.get("/long") { _, _ in Response(body: ResponseBody(byteCount: 3) { writer in try await writer.write("01234") }) }
        try await withLiveServer(router) { _, port in
            let (exact, old) = try await converse(port: port) { connection in
                try connection.send(request("/exact"))
                let exact = try connection.readResponse()
                try connection.send("GET /exact HTTP/1.0\r\n\r\n")
                return (exact, try connection.readResponse())
            }
            #expect(exact.headerFields[.contentLength] == "10")
            #expect(exact.headerFields[.transferEncoding] == nil)
            #expect(exact.bodyText == "0123456789")
            #expect(old.headerFields[.contentLength] == "10", "HTTP/1.0 gets the length too")
            #expect(old.bodyText == "0123456789")
            // Short: what was written, then the close. Long: the write past the promise is refused.
            for (target, ending) in [("/short", "\r\n\r\n01234"), ("/long", "\r\n\r\n")] {
                let raw = try await converse(port: port) { connection in
                    try connection.send(request(target))
                    return try connection.receiveUntilClose()
                }
                let text = String(decoding: raw, as: UTF8.self)
                #expect(text.hasPrefix("HTTP/1.1 200"), "\(target)")
                #expect(text.hasSuffix(ending), "\(target): \(text)")
            }
        }
        #expect(ResponseBody(byteCount: 7) { _ in }.byteCount == 7)
    }

    /// `response` with its file body's writes recorded on their way to the connection.
    private static func recorded(_ response: Response, into record: Shared<Record>) -> Response {
        let body = response.body
        return Response(
            status: response.status, headerFields: response.headerFields,
            body: ResponseBody(byteCount: body.byteCount ?? 0) { writer in
                try await body.write(to: RecordingSink(writer.sink, record: record))
                record.update { $0.finished = true }
            })
    }

    private func get(_ port: Int, _ target: String) async throws -> String {
        try await converse(port: port) { connection in
            try connection.send(request(target))
            return try connection.readResponse().bodyText
        }
    }
}
