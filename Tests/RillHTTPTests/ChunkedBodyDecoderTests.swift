import RillHTTP
import Testing

/// Decodes `text` fed in pieces of `pieceSize` bytes; returns the body, the trailer lines and
/// what followed the body.
private func decode(_ text: String, pieceSize: Int) throws(ChunkedBodyDecoder.Failure) -> (body: String, trailers: [String], rest: String) {
    var decoder = ChunkedBodyDecoder(maxTrailerBytes: 64)
    let bytes = Array(text.utf8)
    var body: [UInt8] = []
    var offset = 0
    while offset < bytes.count && !decoder.isComplete {
        let end = min(offset + pieceSize, bytes.count)
        let used = try bytes[offset..<end].withUnsafeBytes { piece in
            Result { () throws(ChunkedBodyDecoder.Failure) in try decoder.decode(piece) { body.append(contentsOf: $0) } }
        }.get()
        offset += used  // all of the piece, unless the body completed inside it
    }
    return (
        String(decoding: body, as: UTF8.self), decoder.trailerLines.map { String(decoding: $0, as: UTF8.self) },
        String(decoding: bytes[offset...], as: UTF8.self)
    )
}

@Suite struct ChunkedBodyDecoderTests {
    @Test(arguments: [1, 2, 3, 7, 1000])
    func `a body with extensions and trailers decodes the same in any pieces`(pieceSize: Int) throws {
        let text = "5;name=value\r\nhello\r\n1 \r\n \r\nA\r\n0123456789\r\n0\r\nX-Checksum: abc\r\n\r\nHTTP/1.1 200 OK"
        let decoded = try decode(text, pieceSize: pieceSize)
        #expect(decoded.body == "hello 0123456789")
        #expect(decoded.trailers == ["X-Checksum: abc"])
        #expect(decoded.rest == "HTTP/1.1 200 OK")
    }

    @Test func `the decoder counts chunks and body bytes`() throws {
        var decoder = ChunkedBodyDecoder()
        let bytes = Array("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n".utf8)
        let used = try bytes.withUnsafeBytes { raw in
            Result { () throws(ChunkedBodyDecoder.Failure) in try decoder.decode(raw) { _ in } }
        }.get()
        #expect(used == bytes.count)
        #expect(decoder.isComplete)
        #expect(decoder.chunkCount == 2)
        #expect(decoder.bodyByteCount == 5)
    }

    @Test(arguments: [
        ("zz\r\n", ChunkedBodyDecoder.Failure.malformedChunkSize),
        ("\r\n", .malformedChunkSize),
        ("5 x\r\n", .malformedChunkSize),
        ("1234567890123456\r\n", .malformedChunkSize),
        ("5\r\nhelloX\r\n", .missingChunkDataEnd),
        ("5\nhello\r\n", .bareLineEnd),
        ("5\rX", .bareLineEnd),
        ("0\r\nX: y\n\r\n", .bareLineEnd),
        ("0\r\nX: \(String(repeating: "a", count: 80))\r\n\r\n", .trailersTooLarge),
    ])
    func `malformed framing is rejected`(text: String, failure: ChunkedBodyDecoder.Failure) {
        for pieceSize in [1, 1000] {
            #expect(throws: failure) { try decode(text, pieceSize: pieceSize) }
        }
    }
}
