import Testing

@testable import RillLoad

/// The harness's response decoder: every cycle and every stream goes through it, so it must be
/// right for any split of the bytes and for what real servers send (nchan, uvicorn, Rill).
@Suite struct ResponseDecoderTests {
    /// Feeds `text` in pieces of `pieceSize` bytes; returns the decoder, the body and on which
    /// feed the head completed.
    private func decode(_ text: String, pieceSize: Int) throws -> (ResponseDecoder, String, Int?) {
        var decoder = ResponseDecoder()
        var body: [UInt8] = []
        var completedAt: Int?
        let bytes = Array(text.utf8)
        var start = 0
        var feeds = 0
        while start < bytes.count {
            let end = min(bytes.count, start + pieceSize)
            let completed = try bytes[start..<end].withUnsafeBytes { piece in
                try decoder.feed(piece) { body.append(contentsOf: $0) }
            }
            if completed {
                #expect(completedAt == nil, "the head completes once")
                completedAt = feeds
            }
            feeds += 1
            start = end
        }
        return (decoder, String(decoding: body, as: UTF8.self), completedAt)
    }

    static let rillHead =
        "HTTP/1.1 200 OK\r\nRill-Replay: live\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-store\r\n"
        + "date: Sat, 21 Nov 2026 14:44:35 GMT\r\nserver: Rill\r\ntransfer-encoding: chunked\r\n\r\n"

    @Test(arguments: [1, 2, 3, 7, 64, 10_000])
    func `a chunked stream decodes the same for any split`(pieceSize: Int) throws {
        let text = Self.rillHead + "5\r\n:ok\n\n\r\n1b;ext=1\r\ndata: one\ndata: two\n\nid: 3\n\r\n0\r\nTrailer: x\r\n\r\n"
        let (decoder, body, completedAt) = try decode(text, pieceSize: pieceSize)
        let head = try #require(decoder.head)
        #expect(head.status == 200)
        #expect(head.contentType == "text/event-stream; charset=utf-8")
        #expect(head.chunked)
        #expect(head.contentLength == nil)
        #expect(completedAt != nil)
        #expect(body == ":ok\n\ndata: one\ndata: two\n\nid: 3\n")
        #expect(decoder.chunks == 2)
        #expect(decoder.bodyBytes == body.utf8.count)
        #expect(decoder.isEnded)
    }

    @Test(arguments: [1, 5, 10_000])
    func `a close-delimited stream like nchan's decodes`(pieceSize: Int) throws {
        let text =
            "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/event-stream; charset=utf-8\r\nConnection: keep-alive\r\n\r\n: hi\n\n"
        let (decoder, body, _) = try decode(text, pieceSize: pieceSize)
        #expect(decoder.head?.status == 200)
        #expect(decoder.head?.chunked == false)
        #expect(body == ": hi\n\n")
        #expect(!decoder.isEnded, "no length and not chunked: the body runs until the connection closes")
    }

    @Test func `field names and values ignore case and surrounding blanks`() throws {
        let text = "HTTP/1.0 201 Created\r\nCONTENT-LENGTH: \t4 \r\nTransfer-Encoding:identity\r\ncOnTeNt-TyPe:\tapplication/json\r\n\r\n{}{}"
        let (decoder, body, _) = try decode(text, pieceSize: 10_000)
        let head = try #require(decoder.head)
        #expect(head.status == 201)
        #expect(head.contentType == "application/json")
        #expect(!head.chunked)
        #expect(head.contentLength == 4)
        #expect(body == "{}{}")
        #expect(decoder.isEnded)
        let chunked = try decode("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n0\r\n\r\n", pieceSize: 3).0
        #expect(chunked.head?.chunked == true)
        #expect(chunked.isEnded)
    }

    @Test func `a status line without a reason and an empty body decode`() throws {
        let (decoder, body, _) = try decode("HTTP/1.1 204\r\nContent-Length: 0\r\n\r\n", pieceSize: 4)
        #expect(decoder.head?.status == 204)
        #expect(body.isEmpty)
        #expect(decoder.isEnded)
    }

    @Test(arguments: [
        "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "\r\n\r\n",
    ])
    func `a malformed head is an error`(text: String) {
        #expect(throws: ResponseDecoder.Failure.malformedHead) { try decode(text, pieceSize: 10_000) }
    }

    @Test(arguments: ["zz\r\n", "5\r\nabcdeXX", "\r\n", "5\rX"])
    func `a malformed chunk is an error`(chunk: String) {
        let text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk
        #expect(throws: ResponseDecoder.Failure.malformedChunk) { try decode(text, pieceSize: 1) }
    }

    @Test func `a head beyond the limit is an error, not unbounded memory`() {
        let text = "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: ResponseDecoder.maxHeadBytes) + "\r\n\r\n"
        #expect(throws: ResponseDecoder.Failure.headTooLarge) { try decode(text, pieceSize: 1000) }
        #expect(throws: ResponseDecoder.Failure.headTooLarge) { try decode(text, pieceSize: 100_000) }
    }
}
