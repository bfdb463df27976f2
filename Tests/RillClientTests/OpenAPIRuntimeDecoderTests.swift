import Foundation
import OpenAPIRuntime
import Rill
import Testing

/// Rill's streams read over a real socket and decoded by swift-openapi-runtime's SSE decoder
/// (`asDecodedServerSentEvents()`), compared with Rill's own spec-exact `ServerSentEventParser`
/// and with literal expectations.
///
/// swift-openapi-runtime 1.13 is not a full WHATWG client, so only its spec-conformant behaviour
/// is asserted:
/// - it yields every blank-line-terminated block, including blocks without `data` (comments, an
///   id-only block) that a browser does not dispatch (checklist E1); the comparison keeps only
///   blocks with data, as a browser would;
/// - `id` is the block's own field, not the stream's last event id carried forward (L1, L2); the
///   comparison carries it forward itself, which also checks that every `id` (empty included)
///   was decoded;
/// - `event` is nil when absent, where a browser reports `"message"` (E3);
/// - `retry` is parsed with `Int64(_:)`, which also accepts `+5` (F9); Rill only writes digits,
///   so the value is asserted, not the parsing rule;
/// - a field line without a colon (`data`) is ignored rather than read as an empty value (F4);
///   Rill always writes the colon (`data:`), so that case does not arise.
@Suite(.timeLimit(.minutes(1)))
struct OpenAPIRuntimeDecoderTests {
    @Test func `the fixture stream is framed as one event per chunk with the SSE headers`() async throws {
        try await withTestServer { server in
            let response = try await rawGET(port: server.port, path: "/fixture")
            #expect(response.statusLine == "HTTP/1.1 200 OK")
            #expect(response.header("content-type") == "text/event-stream; charset=utf-8")
            #expect(response.header("cache-control") == "no-store")
            #expect(response.header("x-accel-buffering") == "no")
            #expect(response.header("content-encoding") == nil)
            #expect(response.header("transfer-encoding") == "chunked")
            #expect(response.chunks.map { String(decoding: $0, as: UTF8.self) } == Fixture.chunks)
        }
    }

    @Test(arguments: Chunking.allCases)
    func `OpenAPIRuntime decodes the fixture like Rill's parser and a browser`(chunking: Chunking) async throws {
        let body = try await withTestServer { server in
            try await rawGET(port: server.port, path: "/fixture")
        }
        let pieces = chunking.split(body)

        var decoded: [OpenAPIRuntime.ServerSentEvent] = []
        for try await event in ByteChunks(pieces).asDecodedServerSentEvents() {
            decoded.append(event)
        }
        let withData = decoded.filter { $0.data != nil }
        #expect(dispatchedLikeABrowser(decoded) == Fixture.dispatched)
        #expect(withData.map(\.id) == Fixture.ownIDs)
        #expect(
            withData.map(\.event) == [
                "multi", nil, "empty", nil, nil, nil, nil, "unicode-ü", nil, "done",
            ])
        // The id-only block carries the retry; written as digits, so Int64 parsing is conformant.
        #expect(decoded.contains(OpenAPIRuntime.ServerSentEvent(id: "7", retry: 1234)))
        #expect(withData.allSatisfy { $0.retry == nil })

        var parser = ServerSentEventParser()
        var parsed: [MessageEvent] = []
        for piece in pieces { parsed += parser.parse(piece) }
        parser.finish()
        #expect(parsed == Fixture.dispatched)
        #expect(parser.lastEventID == "11")
        #expect(parser.reconnectionTime == .milliseconds(1234))
    }

    @Test func `an event stream resumes after the Last-Event-ID header and opens with retry`() async throws {
        let (response, seen) = try await withTestServer { server in
            let response = try await rawGET(port: server.port, path: "/events", headers: ["Last-Event-ID": "41"])
            let seen = try await seenConnections(port: server.port)
            return (response, seen)
        }
        let body = response.body
        #expect(response.chunks.first.map { String(decoding: $0, as: UTF8.self) } == "retry: 500\n\n")

        var decoded: [OpenAPIRuntime.ServerSentEvent] = []
        for try await event in ByteChunks(response.chunks.map { ArraySlice($0) }).asDecodedServerSentEvents() {
            decoded.append(event)
        }
        #expect(decoded.first == OpenAPIRuntime.ServerSentEvent(retry: 500))
        #expect(dispatchedLikeABrowser(decoded) == (42...44).map(expectedEvent(id:)))

        var parser = ServerSentEventParser()
        #expect(parser.parse(body) == (42...44).map(expectedEvent(id:)))
        #expect(parser.reconnectionTime == .milliseconds(500))
        #expect(seen.map(\.lastEventID) == ["41"])
        #expect(seen.allSatisfy { $0.endedAtMilliseconds != nil })
    }

    @Test func `the lastEventId query parameter works for clients that cannot set headers`() async throws {
        let (response, seen) = try await withTestServer { server in
            let response = try await rawGET(port: server.port, path: "/events?lastEventId=7")
            return (response, try await seenConnections(port: server.port))
        }
        var parser = ServerSentEventParser()
        #expect(parser.parse(response.body) == (8...10).map(expectedEvent(id:)))
        #expect(seen.map(\.lastEventID) == ["7"])
    }
}

/// How the body is handed to the decoders: real networks split anywhere, including between a
/// CR and its LF and inside a UTF-8 character.
enum Chunking: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case whole, asChunkedOnTheWire, byteByByte

    var testDescription: String { rawValue }

    func split(_ response: RawResponse) -> [ArraySlice<UInt8>] {
        switch self {
        case .whole: [ArraySlice(response.body)]
        case .asChunkedOnTheWire: response.chunks.map { ArraySlice($0) }
        case .byteByByte: response.body.map { [$0][...] }
        }
    }
}

/// What a browser would dispatch for openapi-runtime's raw blocks: blocks without data are not
/// dispatched, the last event id carries forward (an empty `id:` resets it), and the type
/// defaults to "message".
func dispatchedLikeABrowser(_ events: [OpenAPIRuntime.ServerSentEvent]) -> [MessageEvent] {
    var lastEventID = ""
    var dispatched: [MessageEvent] = []
    for event in events {
        if let id = event.id { lastEventID = id }
        guard let data = event.data else { continue }
        let type = event.event.flatMap { $0.isEmpty ? nil : $0 } ?? "message"
        dispatched.append(MessageEvent(type: type, data: data, lastEventID: lastEventID))
    }
    return dispatched
}

/// `GET /seen-last-event-ids`, decoded.
func seenConnections(port: Int) async throws -> [SeenConnection] {
    let response = try await rawGET(port: port, path: "/seen-last-event-ids")
    #expect(response.header("content-type")?.hasPrefix("application/json") == true)
    return try JSONDecoder().decode([SeenConnection].self, from: Data(response.body))
}

/// An async sequence of byte chunks given up front: the upstream openapi-runtime decodes.
struct ByteChunks: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>
    let chunks: [ArraySlice<UInt8>]
    init(_ chunks: [ArraySlice<UInt8>]) { self.chunks = chunks }

    struct AsyncIterator: AsyncIteratorProtocol {
        var remaining: ArraySlice<ArraySlice<UInt8>>
        mutating func next() async -> ArraySlice<UInt8>? { remaining.popFirst() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(remaining: chunks[...]) }
}
