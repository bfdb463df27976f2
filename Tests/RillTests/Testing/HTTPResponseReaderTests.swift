import Rill
import RillTesting
import Testing

@Suite struct HTTPResponseReaderTests {
    /// Feeds `input` whole, or one byte at a time calling `next` after every byte, then `finish`.
    private func read(
        _ input: String, methods: [HTTPRequest.Method] = [], byteByByte: Bool
    ) throws(HTTPResponseReaderError) -> [TestResponse] {
        var reader = HTTPResponseReader()
        var responses: [TestResponse] = []
        var methodIndex = 0
        func method() -> HTTPRequest.Method { methodIndex < methods.count ? methods[methodIndex] : .get }
        func drain() throws(HTTPResponseReaderError) {
            while let response = try reader.next(forRequestMethod: method()) {
                responses.append(response)
                if !(100..<200).contains(response.status.code) { methodIndex += 1 }
            }
        }
        if byteByByte {
            for byte in Array(input.utf8) {
                reader.append([byte])
                try drain()
            }
        } else {
            reader.append(Array(input.utf8))
            try drain()
        }
        if let last = try reader.finish() { responses.append(last) }
        return responses
    }

    /// Reads `input` both ways and expects the same responses.
    private func readBothWays(_ input: String, methods: [HTTPRequest.Method] = []) throws -> [TestResponse] {
        let whole = try read(input, methods: methods, byteByByte: false)
        let trickled = try read(input, methods: methods, byteByByte: true)
        #expect(whole.map(\.description) == trickled.map(\.description))
        #expect(whole.map(\.trailerFields) == trickled.map(\.trailerFields))
        return whole
    }

    private func expectFailure(_ input: String, _ expected: HTTPResponseReaderError, sourceLocation: SourceLocation = #_sourceLocation) {
        for byteByByte in [false, true] {
            #expect(throws: expected, sourceLocation: sourceLocation) { try read(input, byteByByte: byteByByte) }
        }
    }

    @Test func `an endless chunked body is handed out as it arrives, de-chunked, after the head`() throws {
        var reader = HTTPResponseReader()
        reader.append(Array("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n".utf8))
        #expect(try reader.head() == nil)  // the head is not complete yet
        reader.append(Array("\r\n5\r\nhel".utf8))
        let head = try #require(try reader.head())
        #expect(head.status == .ok && head.headerFields[.contentType] == "text/event-stream")
        var (bytes, isComplete) = try reader.takeBody()
        #expect(bytes == Array("hel".utf8) && !isComplete)
        reader.append(Array("lo\r\n3;x=1\r\n!!!\r\n".utf8))
        (bytes, isComplete) = try reader.takeBody()
        #expect(bytes == Array("lo!!!".utf8) && !isComplete)
        reader.append(Array("0\r\n\r\n".utf8))
        (bytes, isComplete) = try reader.takeBody()
        #expect(bytes.isEmpty && isComplete)
    }

    @Test func `a streamed response without a body, or with a short one, completes at once`() throws {
        var reader = HTTPResponseReader()
        reader.append(Array("HTTP/1.1 204 No Content\r\n\r\n".utf8))
        #expect(try reader.head()?.status == .noContent)
        #expect(try reader.takeBody() == ([], true))
        reader.append(Array("HTTP/1.1 401 Unauthorized\r\ncontent-length: 2\r\n\r\nno".utf8))
        #expect(try reader.head()?.status == .unauthorized)
        #expect(try reader.takeBody() == (Array("no".utf8), true))
    }

    @Test func `a malformed chunk in a streamed body is an error`() throws {
        var reader = HTTPResponseReader()
        reader.append(Array("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabXY".utf8))
        _ = try #require(try reader.head())
        #expect(throws: HTTPResponseReaderError.self) { _ = try reader.takeBody() }
    }

    @Test func `a Content-Length response yields status, reason, fields and exactly that many body bytes`() throws {
        let responses = try readBothWays("HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello")
        #expect(responses.count == 1)
        let response = try #require(responses.first)
        #expect(response.status.code == 201)
        #expect(response.status.reasonPhrase == "Created")
        #expect(response.version == .http1_1)
        #expect(response.headerFields[.contentType] == "text/plain")
        #expect(response.headerFields[HTTPField.Name("x-a")!] == "1")
        #expect(response.bodyText == "hello")
    }

    @Test func `a chunked body is reassembled with extensions ignored and trailers kept`() throws {
        let input =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Checksum: abc\r\nX-More: 2\r\n\r\n"
        let response = try #require(try readBothWays(input).first)
        #expect(response.bodyText == "hello 0123456789")
        #expect(response.trailerFields[HTTPField.Name("x-checksum")!] == "abc")
        #expect(response.trailerFields[HTTPField.Name("x-more")!] == "2")
        #expect(response.headerFields[.transferEncoding] == "chunked")
    }

    @Test func `a response without length runs until the connection closes`() throws {
        let responses = try readBothWays("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of this\r\nand this")
        #expect(responses.count == 1)
        #expect(responses.first?.bodyText == "all of this\r\nand this")
        #expect(responses.first?.version == .http1_0)
    }

    @Test func `a response to HEAD has no body whatever its Content-Length says`() throws {
        let input = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
        let responses = try readBothWays(input, methods: [.head, .get])
        #expect(responses.map(\.body.count) == [0, 3])
        #expect(responses.first?.headerFields[.contentLength] == "11")
        #expect(responses.last?.bodyText == "abc")
    }

    @Test func `interim responses come out on their own before the final response`() throws {
        let input = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        let responses = try readBothWays(input)
        #expect(responses.map(\.status.code) == [100, 103, 200])
        #expect(responses[1].headerFields[HTTPField.Name("link")!] == "</a.css>")
        #expect(responses[2].bodyText == "ok")
    }

    @Test func `204 and 304 responses have no body`() throws {
        let input =
            "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"
        let responses = try readBothWays(input)
        #expect(responses.map(\.status.code) == [204, 304, 200])
        #expect(responses.map(\.body.count) == [0, 0, 1])
    }

    @Test func `pipelined responses of every framing come out in order`() throws {
        let input =
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
            + "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\n"
            + "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
            + "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\ncd\r\n0\r\n\r\n"
            + "HTTP/1.1 200 OK\r\n\r\nrest until close"
        let responses = try readBothWays(input)
        #expect(responses.map(\.status.code) == [200, 200, 404, 200, 200])
        #expect(responses.map(\.bodyText) == ["a", "b", "", "cd", "rest until close"])
    }

    @Test func `an empty reason phrase and a missing final space are accepted`() throws {
        let responses = try readBothWays("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\nHTTP/1.1 418\r\nContent-Length: 0\r\n\r\n")
        #expect(responses.map(\.status.code) == [200, 418])
        #expect(responses.map(\.status.reasonPhrase) == ["", ""])
    }

    @Test func `repeated identical Content-Length values are one length`() throws {
        let response = try #require(try readBothWays("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok").first)
        #expect(response.bodyText == "ok")
    }

    @Test func `a large body arriving in pieces is copied intact`() throws {
        let body = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 % 251) }
        var reader = HTTPResponseReader()
        reader.append(Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\n\r\n".utf8))
        var responses: [TestResponse] = []
        for start in stride(from: 0, to: body.count, by: 7_919) {
            #expect(responses.isEmpty)
            reader.append(body[start..<min(start + 7_919, body.count)])
            if let response = try reader.next() { responses.append(response) }
        }
        #expect(responses.count == 1)
        #expect(responses.first?.body == body)
        #expect(reader.bufferedByteCount == 0)
    }

    @Test func `bytes after the last response stay buffered for the caller`() throws {
        var reader = HTTPResponseReader()
        reader.append(Array("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxtrailing garbage".utf8))
        #expect(try reader.next()?.bodyText == "x")
        #expect(reader.isAtResponseBoundary)
        #expect(reader.takeBufferedBytes() == Array("trailing garbage".utf8))
        #expect(reader.bufferedByteCount == 0)
        #expect(try reader.finish() == nil)
    }

    @Test func `a clean end between responses is not an error`() throws {
        var reader = HTTPResponseReader()
        #expect(try reader.finish() == nil)
    }

    @Test func `a body cut short by the end of input fails`() {
        expectFailure("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", .unexpectedEndOfInput)
        expectFailure("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", .unexpectedEndOfInput)
        expectFailure("HTTP/1.1 200 OK\r\nContent-Le", .unexpectedEndOfInput)
    }

    @Test func `lines must end in CRLF`() {
        expectFailure("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", .bareLineFeed)
        expectFailure("HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", .bareLineFeed)
        expectFailure("HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n", .bareCarriageReturn)
    }

    @Test func `malformed status lines are rejected`() {
        for line in ["HTTP/1.1 20 OK", "HTTP/1.1 2000 OK", "HTTP/1.1 OK", "HTTP/11 200 OK", "http/1.1 200 OK", "HTTP/1.1 099 Low"] {
            expectFailure(line + "\r\n\r\n", .malformedStatusLine(line))
        }
    }

    @Test func `malformed header lines are rejected`() {
        for line in ["Content-Length : 0", " folded: x", "NoColon", ": empty name", "Bad Name: x", "X: nul\u{0}"] {
            expectFailure("HTTP/1.1 200 OK\r\n\(line)\r\n\r\n", .malformedHeader(line))
        }
    }

    @Test func `ambiguous or invalid lengths are rejected`() {
        expectFailure("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", .invalidContentLength("1, 2"))
        expectFailure("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", .invalidContentLength("-1"))
        expectFailure("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", .invalidContentLength("0x10"))
        expectFailure("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", .conflictingFraming)
    }

    @Test func `malformed chunked framing is rejected`() {
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        expectFailure(head + "5\r\nhelloX\r\n0\r\n\r\n", .malformedChunk("chunk data is not followed by CRLF"))
        expectFailure(head + "zz\r\n", .malformedChunk("bad chunk size line"))
        expectFailure(head + "5 x\r\nhello\r\n", .malformedChunk("bad chunk size line"))
        expectFailure(head + "1234567890123456\r\n", .malformedChunk("bad chunk size line"))
    }

    @Test func `a head larger than the limit is rejected before it completes`() {
        var reader = HTTPResponseReader(maxHeadBytes: 64)
        reader.append(Array("HTTP/1.1 200 OK\r\nX-Long: \(String(repeating: "a", count: 100))".utf8))
        #expect(throws: HTTPResponseReaderError.headTooLarge) { try reader.next() }
    }

    @Test func `an error is final`() {
        var reader = HTTPResponseReader()
        reader.append(Array("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n".utf8))
        #expect(throws: HTTPResponseReaderError.bareLineFeed) { try reader.next() }
        reader.append(Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8))
        #expect(throws: HTTPResponseReaderError.bareLineFeed) { try reader.next() }
        #expect(throws: HTTPResponseReaderError.bareLineFeed) { try reader.finish() }
    }
}
