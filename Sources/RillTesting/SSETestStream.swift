public import Rill
import RillHTTP

/// A live Server-Sent Events stream for tests: the response head, then the events parsed by
/// the spec-exact ``ServerSentEventParser`` as they arrive. Endless streams are fine: read
/// what you need, then ``close()``.
///
/// ```swift
/// try await app.test(.live) { client in
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

    private let connection: RawConnection
    private var parser = ServerSentEventParser()
    private var decoder: ChunkedBodyDecoder?
    private var ready: [MessageEvent] = []
    private var ended = false

    init(connection: RawConnection, status: HTTPResponse.Status, headerFields: HTTPFields, initialBytes: [UInt8]) throws {
        self.connection = connection
        self.status = status
        self.headerFields = headerFields
        if headerFields[.transferEncoding]?.lowercased() == "chunked" { decoder = ChunkedBodyDecoder() }
        try consume(initialBytes)
    }

    /// Whether the server ended the stream (last chunk or close).
    public var isEnded: Bool { ended && ready.isEmpty }

    /// The last event id of the events returned so far (what a browser that processed them
    /// would send on reconnect).
    public private(set) var lastEventID = ""

    /// The next event; nil when the stream ended. Blocks up to the connection's timeout.
    public func nextEvent() throws -> MessageEvent? {
        while ready.isEmpty && !ended {
            try receiveMore()
        }
        guard !ready.isEmpty else { return nil }
        let event = ready.removeFirst()
        lastEventID = event.lastEventID
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
    public func close() { connection.close() }

    /// Resets the connection (RST), like a client that crashed.
    public func reset() { connection.reset() }

    private func receiveMore() throws {
        let bytes = try connection.receive(atLeast: 1)
        if bytes.isEmpty {
            ended = true
            parser.finish()
            return
        }
        try consume(bytes)
    }

    private func consume(_ bytes: [UInt8]) throws {
        let payload: [UInt8]
        if decoder != nil {
            payload = try decoder!.decode(bytes)
            if decoder!.isComplete { ended = true }
        } else {
            payload = bytes
        }
        body.append(contentsOf: payload)
        ready.append(contentsOf: parser.parse(payload))
        if ended { parser.finish() }
    }
}

extension TestClient {
    /// Opens a Server-Sent Events stream on a `.live` server: a `GET` with
    /// `Accept: text/event-stream`. Non-200 responses are returned too (check ``SSETestStream/status``).
    public func sse(_ path: String, headerFields: HTTPFields = [:]) async throws -> SSETestStream {
        guard let port else { throw TestClientError.streamedBodyNotSupportedInRouterMode(path: path) }
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: text/event-stream\r\n"
        for field in headerFields { request += "\(field.name.rawName): \(field.value)\r\n" }
        request += "\r\n"
        let head = request
        let timeout = self.timeout
        return try await onDedicatedThread {
            let connection = try RawConnection(port: port, timeout: timeout)
            try connection.send(head)
            var received: [UInt8] = []
            let terminator = Array("\r\n\r\n".utf8)
            while true {
                let bytes = try connection.receive(atLeast: 1)
                if bytes.isEmpty { throw TestClientError.connectionClosed }
                received.append(contentsOf: bytes)
                if let end = received.firstRange(of: terminator) {
                    let (status, fields) = try Self.parseHead(received[..<end.lowerBound])
                    return try SSETestStream(
                        connection: connection, status: status, headerFields: fields, initialBytes: Array(received[end.upperBound...]))
                }
            }
        }
    }

    private static func parseHead(_ bytes: ArraySlice<UInt8>) throws -> (HTTPResponse.Status, HTTPFields) {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusParts = lines.first?.split(separator: " ", maxSplits: 2) ?? []
        guard statusParts.count >= 2, let code = Int(statusParts[1]) else {
            throw HTTPResponseReaderError.malformedStatusLine(String(decoding: bytes.prefix(80), as: UTF8.self))
        }
        var fields = HTTPFields()
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":"), let name = HTTPField.Name(String(line[..<colon])) else { continue }
            fields.append(HTTPField(name: name, value: line[line.index(after: colon)...].trimmingSpaces()))
        }
        return (HTTPResponse.Status(code: code), fields)
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}

/// Incremental decoder of a chunked body, for endless streams.
struct ChunkedBodyDecoder {
    private var buffer: [UInt8] = []
    private var remainingInChunk = 0
    private var expectingCRLFAfterChunk = false
    private(set) var isComplete = false

    mutating func decode(_ bytes: [UInt8]) throws -> [UInt8] {
        buffer.append(contentsOf: bytes)
        var output: [UInt8] = []
        var index = 0
        while index < buffer.count && !isComplete {
            if remainingInChunk > 0 {
                let take = Swift.min(remainingInChunk, buffer.count - index)
                output.append(contentsOf: buffer[index..<(index + take)])
                index += take
                remainingInChunk -= take
                if remainingInChunk == 0 { expectingCRLFAfterChunk = true }
                continue
            }
            // A line: either the CRLF after chunk data or a size line.
            guard let lineEnd = buffer[index...].firstIndex(of: UInt8(ascii: "\n")) else { break }
            let line = buffer[index..<lineEnd].filter { $0 != UInt8(ascii: "\r") }
            index = lineEnd + 1
            if expectingCRLFAfterChunk {
                guard line.isEmpty else { throw HTTPResponseReaderError.malformedChunk("missing CRLF after chunk data") }
                expectingCRLFAfterChunk = false
                continue
            }
            let sizeText = String(decoding: line.prefix(while: { $0 != UInt8(ascii: ";") }), as: UTF8.self)
            guard let size = Int(sizeText, radix: 16) else { throw HTTPResponseReaderError.malformedChunk("missing CRLF after chunk data") }
            if size == 0 {
                isComplete = true
            } else {
                remainingInChunk = size
            }
        }
        buffer.removeFirst(index)
        return output
    }
}

extension TestClient {
    /// A client for a server already listening on 127.0.0.1:`port` (started by the test itself,
    /// for example to observe a shutdown from outside ``Application/test(_:_:)``).
    public init(port: Int) {
        self.init(backend: .live(port: port))
    }
}
