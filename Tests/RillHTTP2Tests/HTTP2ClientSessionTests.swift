import HTTPTypes
import RillHTTP2
import Testing

@Suite("The HTTP/2 client session against the server session, in memory")
struct HTTP2ClientSessionTests {
    @Test func `a GET is answered with its head and a body in several DATA frames`() {
        let pair = SessionPair()
        let body = [UInt8]((0..<40_000).map { UInt8($0 % 251) })
        pair.server.bodies["/body"] = body
        let streamID = pair.client.submitRequest(method: "GET", path: "/body", authority: "localhost", scheme: "http")
        #expect(streamID == 1)
        pair.exchange()

        #expect(pair.server.requests.map(\.path) == ["/body"])
        #expect(pair.server.requests.first?.authority == "localhost")
        let response = pair.client.responses[1]
        #expect(response?.head.status == 200)
        #expect(response?.head.value(of: "content-type") == "application/octet-stream")
        #expect(response?.body == body)
        // 40,000 bytes in DATA frames of at most 16,384: at least three chunks.
        #expect((response?.dataChunks ?? 0) >= 3)
        #expect(pair.client.closed[1] == .noError)
    }

    @Test func `a stream the server resets closes with its error code and no head`() {
        let pair = SessionPair()
        pair.server.resetPaths = ["/reset"]
        let streamID = pair.client.submitRequest(method: "GET", path: "/reset", authority: "localhost", scheme: "http")
        pair.exchange()
        #expect(streamID != nil)
        #expect(pair.client.responses[streamID ?? 0] == nil)
        #expect(pair.client.closed[streamID ?? 0] == .cancel)
    }

    @Test func `a stream the client resets reaches the server as a reset`() {
        let pair = SessionPair()
        pair.server.openEndedPaths = ["/stream"]
        let streamID = pair.client.submitRequest(method: "GET", path: "/stream", authority: "localhost", scheme: "http")!
        pair.exchange()
        #expect(pair.client.responses[streamID]?.head.status == 200)
        #expect(pair.client.closed[streamID] == nil)

        pair.client.session.resetStream(streamID, error: .cancel)
        pair.exchange()
        #expect(pair.server.closed[streamID] == .cancel)
        #expect(pair.client.closed[streamID] == .cancel)
    }

    @Test func `many streams on one connection are each answered with their own body`() {
        let pair = SessionPair()
        var expected: [Int32: [UInt8]] = [:]
        for index in 0..<100 {
            let path = "/item/\(index)"
            pair.server.bodies[path] = Array("data: \(index)\n\n".utf8)
            let streamID = pair.client.submitRequest(method: "GET", path: path, authority: "localhost", scheme: "http")!
            expected[streamID] = pair.server.bodies[path]
        }
        pair.exchange()
        #expect(pair.server.requests.count == 100)
        #expect(pair.client.responses.count == 100)
        for (streamID, body) in expected {
            #expect(pair.client.responses[streamID]?.body == body)
            #expect(pair.client.closed[streamID] == .noError)
        }
    }

    @Test func `open-ended streams receive data as the server writes it, and GOAWAY reaches the client`() {
        let pair = SessionPair()
        pair.server.openEndedPaths = ["/stream"]
        let streams = (0..<10).map { _ in pair.client.submitRequest(method: "GET", path: "/stream", authority: "localhost", scheme: "http")! }
        pair.exchange()
        for round in 0..<3 {
            for streamID in streams { pair.server.push(Array("data: \(round)\n\n".utf8), on: streamID) }
            pair.exchange()
        }
        for streamID in streams {
            #expect(pair.client.responses[streamID]?.body == Array("data: 0\n\ndata: 1\n\ndata: 2\n\n".utf8))
            #expect(pair.client.closed[streamID] == nil)
        }
        pair.server.session.goAway()
        pair.exchange()
        #expect(pair.client.goAway?.error == .noError)
        #expect(pair.client.goAway?.lastStreamID == streams.last)
        #expect(pair.client.session.submitRequest(method: "GET", path: "/stream", authority: "localhost", scheme: "http") == nil)
    }

    @Test func `a frame that breaks the protocol fails the client session`() {
        let pair = SessionPair()
        _ = pair.client.submitRequest(method: "GET", path: "/", authority: "localhost", scheme: "http")
        pair.exchange()
        // A SETTINGS frame of 5 bytes (a multiple of 6 is required): FRAME_SIZE_ERROR.
        let broken: [UInt8] = [0, 0, 5, 0x4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        broken.withUnsafeBytes { _ = pair.client.session.receive($0) }
        // nghttp2 answers with GOAWAY FRAME_SIZE_ERROR (0x6) and reads no more.
        #expect(!pair.client.session.send())
        #expect(pair.client.session.failure != nil)
        #expect(pair.client.session.isFinished)
    }
}

/// A client session and a server session whose bytes are piped to each other in memory.
final class SessionPair {
    let client = ClientEnd()
    let server = ServerEnd()

    /// Sends and receives both ways until neither side has anything left to send.
    func exchange() {
        for _ in 0..<1_000 {
            client.session.send()
            server.session.send()
            if client.outbox.isEmpty && server.outbox.isEmpty { return }
            let toServer = client.outbox
            client.outbox = []
            let toClient = server.outbox
            server.outbox = []
            toServer.withUnsafeBytes { _ = server.session.receive($0) }
            toClient.withUnsafeBytes { _ = client.session.receive($0) }
        }
        Issue.record("the sessions never went quiet")
    }
}

/// The client's side: records responses, data, closes and GOAWAY.
final class ClientEnd: HTTP2ClientSessionDelegate {
    struct Response {
        var head: HTTP2ResponseHead
        var body: [UInt8] = []
        var dataChunks = 0
    }

    let session = HTTP2ClientSession()
    var outbox: [UInt8] = []
    var responses: [Int32: Response] = [:]
    var closed: [Int32: HTTP2ErrorCode] = [:]
    var goAway: (error: HTTP2ErrorCode, lastStreamID: Int32)?

    init() { session.delegate = self }

    func submitRequest(method: String, path: String, authority: String, scheme: String) -> Int32? {
        session.submitRequest(method: method, path: path, authority: authority, scheme: scheme, headers: [("accept", "*/*")])
    }

    func session(_ session: HTTP2ClientSession, write bytes: UnsafeRawBufferPointer) { outbox.append(contentsOf: bytes) }

    func session(_ session: HTTP2ClientSession, didReceive head: HTTP2ResponseHead, on streamID: Int32, endStream: Bool) {
        responses[streamID] = Response(head: head)
    }

    func session(_ session: HTTP2ClientSession, didReceiveData bytes: UnsafeRawBufferPointer, on streamID: Int32) {
        responses[streamID]?.body.append(contentsOf: bytes)
        responses[streamID]?.dataChunks += 1
    }

    func session(_ session: HTTP2ClientSession, didCloseStream streamID: Int32, error: HTTP2ErrorCode) { closed[streamID] = error }

    func session(_ session: HTTP2ClientSession, didReceiveGoAwayWith error: HTTP2ErrorCode, lastStreamID: Int32) {
        goAway = (error, lastStreamID)
    }
}

/// The server's side: answers each request from `bodies` (a whole body), `openEndedPaths` (a
/// head, then whatever ``push(_:on:)`` adds) or `resetPaths` (`RST_STREAM` `CANCEL`); 404
/// otherwise.
final class ServerEnd: HTTP2SessionDelegate {
    let session = HTTP2Session(
        limits: HTTP2SessionLimits(
            maxConcurrentStreams: 128, initialStreamWindowBytes: 65_535, maxHeaderListBytes: 16_384, maxResetStreamBurst: 200,
            maxResetStreamsPerSecond: 50, maxContinuationFrames: 8, maxPingAndSettingsFramesPerSecond: 100, maxQueuedControlFrames: 1000))
    var outbox: [UInt8] = []
    var bodies: [String: [UInt8]] = [:]
    var openEndedPaths: Set<String> = []
    var resetPaths: Set<String> = []
    var requests: [HTTP2RequestHead] = []
    var closed: [Int32: HTTP2ErrorCode] = [:]
    /// Bytes waiting to go out per stream, and whether the body ends with them.
    private var pending: [Int32: (bytes: [UInt8], ends: Bool)] = [:]

    init() { session.delegate = self }

    /// Queues `bytes` on an open-ended stream.
    func push(_ bytes: [UInt8], on streamID: Int32) {
        pending[streamID, default: ([], false)].bytes += bytes
        session.resumeData(of: streamID)
    }

    func session(_ session: HTTP2Session, write bytes: UnsafeRawBufferPointer) -> Bool {
        outbox.append(contentsOf: bytes)
        return true
    }

    func session(_ session: HTTP2Session, didReceive head: HTTP2RequestHead, on streamID: Int32, endStream: Bool) {
        requests.append(head)
        if resetPaths.contains(head.path) {
            session.resetStream(streamID, error: .cancel)
        } else if openEndedPaths.contains(head.path) {
            pending[streamID] = ([], false)
            session.submitResponse(streamID: streamID, status: 200, headerFields: [("content-type", "text/event-stream")], hasBody: true)
        } else if let body = bodies[head.path] {
            pending[streamID] = (body, true)
            session.submitResponse(
                streamID: streamID, status: 200, headerFields: [("content-type", "application/octet-stream")], hasBody: true)
        } else {
            session.submitResponse(streamID: streamID, status: 404, headerFields: [], hasBody: false)
        }
    }

    func session(_ session: HTTP2Session, headersTooLargeOn streamID: Int32) {
        session.submitResponse(streamID: streamID, status: 431, headerFields: [], hasBody: false)
    }

    func session(_ session: HTTP2Session, didReceiveBody bytes: UnsafeRawBufferPointer, on streamID: Int32) {}

    func session(_ session: HTTP2Session, didEndRequestOn streamID: Int32) {}

    func session(_ session: HTTP2Session, didSendEndOfResponseOn streamID: Int32) {}

    func session(_ session: HTTP2Session, didCloseStream streamID: Int32, error: HTTP2ErrorCode) {
        closed[streamID] = error
        pending[streamID] = nil
    }

    func session(_ session: HTTP2Session, fillDataFor streamID: Int32, into buffer: UnsafeMutableRawBufferPointer) -> HTTP2DataFill {
        guard let waiting = pending[streamID], !waiting.bytes.isEmpty || waiting.ends else { return .deferred }
        let count = min(buffer.count, waiting.bytes.count)
        waiting.bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        let rest = Array(waiting.bytes[count...])
        pending[streamID] = (rest, waiting.ends)
        return .bytes(count: count, isLast: rest.isEmpty && waiting.ends)
    }
}
