import HTTPTypes
import RillHTTP
import Testing

@Suite("Rejecting invalid requests")
struct HTTPRequestParserErrorTests {
    @Test func `every error maps to its response status`() {
        let expected: [(HTTPParserError, Int)] = [
            (.malformedRequestLine(reason: "x"), 400),
            (.malformedHeader(reason: "x"), 400),
            (.headersTooLarge, 431),
            (.uriTooLong, 414),
            (.bodyTooLarge, 413),
            (.conflictingFraming, 400),
            (.invalidContentLength, 400),
            (.unsupportedTransferEncoding, 501),
            (.unsupportedVersion, 505),
            (.malformedChunk(reason: "x"), 400),
            (.missingHost, 400),
        ]
        for (error, code) in expected {
            #expect(error.status.code == code, "\(error)")
        }
        #expect(HTTPParserError.headersTooLarge.status == .requestHeaderFieldsTooLarge)
    }

    @Test(arguments: [
        "GET /\r\nHost: a\r\n\r\n",  // missing version (HTTP/0.9 style)
        "GET\r\nHost: a\r\n\r\n",  // method only
        "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",  // double space before target
        "GET /  HTTP/1.1\r\nHost: a\r\n\r\n",  // double space before version
        "GET / HTTP/1.1 \r\nHost: a\r\n\r\n",  // trailing space
        " GET / HTTP/1.1\r\nHost: a\r\n\r\n",  // leading space
        "GET / http/1.1\r\nHost: a\r\n\r\n",  // lowercase protocol name
        "GET / HTTP/1.1x\r\nHost: a\r\n\r\n",
        "GET / HTTP/11\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.10\r\nHost: a\r\n\r\n",
        "GET / HTTP/1\r\nHost: a\r\n\r\n",
        "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n",  // tab instead of space
        "garbage\r\n\r\n",
        "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",  // non-token method byte
        "GE\rT / HTTP/1.1\r\nHost: a\r\n\r\n",  // CR inside the method
        "GET / HTTP/1.1\rHost: a\r\n\r\n",  // bare CR as a line terminator
        "GET foo HTTP/1.1\r\nHost: a\r\n\r\n",  // not origin-form
        "GET * HTTP/1.1\r\nHost: a\r\n\r\n",  // asterisk-form for a method other than OPTIONS
        "OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n",
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n",  // authority-form
        "GET ftp://example.com/ HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET http:///path HTTP/1.1\r\nHost: a\r\n\r\n",  // absolute-form without authority
        "GET http://user@evil.example/ HTTP/1.1\r\nHost: a\r\n\r\n",  // userinfo in the authority
        "GET http://trusted:pw@evil.example?x HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET http://a%zz/ HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET http://a\\b/ HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET http://evil.example:80:80/ HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET http://[::1/ HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /a\u{7F}b HTTP/1.1\r\nHost: a\r\n\r\n",  // DEL in target
        "GET /a\u{01}b HTTP/1.1\r\nHost: a\r\n\r\n",  // control byte in target
        "GET /caf\u{E9} HTTP/1.1\r\nHost: a\r\n\r\n",  // non-ASCII in target
        "GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n",  // fragment
        "\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",  // three empty lines before the request
    ])
    func `malformed request lines are rejected with 400`(input: String) {
        let outcome = parseAllWays(input)
        guard case .malformedRequestLine = outcome.error else {
            Issue.record("expected malformedRequestLine, got \(outcome)")
            return
        }
        #expect(outcome.error?.status.code == 400)
        #expect(outcome.heads.isEmpty)
    }

    @Test func `a TLS handshake on the plain-text port fails on its first byte`() {
        let clientHello: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]
        let outcome = parse(clientHello, mode: .byteByByte)
        #expect(outcome.error == .malformedRequestLine(reason: "invalid character in method"))
        #expect(outcome.bytesFedAtError == 1)
    }

    @Test(arguments: [
        "Host : a",  // whitespace between name and colon
        "Host\t: a",
        ": value",  // empty name
        "NoColonHere",
        "X-Bad\u{01}Name: v",
        "X-Bad@Name: v",
        "X: nul\u{00}byte",
        "X: bell\u{07}byte",
        "X: del\u{7F}byte",
        "X: bare\rCR",
    ])
    func `malformed header lines are rejected with 400`(line: String) {
        let outcome = parseAllWays("GET / HTTP/1.1\r\nHost: a\r\n\(line)\r\n\r\n")
        guard case .malformedHeader = outcome.error else {
            Issue.record("expected malformedHeader, got \(outcome)")
            return
        }
        #expect(outcome.error?.status.code == 400)
        #expect(outcome.heads.isEmpty)
    }

    @Test func `obs-fold continuation lines are rejected`() {
        let outcome = parseAllWays("GET / HTTP/1.1\r\nHost: a\r\nX: first\r\n  folded\r\n\r\n")
        #expect(outcome.error == .malformedHeader(reason: "obsolete line folding"))
        let tab = parseAllWays("GET / HTTP/1.1\r\nHost: a\r\nX: first\r\n\tfolded\r\n\r\n")
        #expect(tab.error == .malformedHeader(reason: "obsolete line folding"))
    }

    @Test func `whitespace before the colon is reported as such`() {
        let outcome = parseAllWays("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n")
        #expect(outcome.error == .malformedHeader(reason: "whitespace between field name and colon"))
    }

    @Test func `a head that never ends is stopped at exactly maxHeaderBytes`() {
        var input = Array("GET / HTTP/1.1\r\nHost: a\r\n".utf8)
        // Long lines, so the 100-field limit does not fire first.
        let filler = "X-Filler: " + String(repeating: "a", count: 1000) + "\r\n"
        while input.count < 20_000 {
            input += Array(filler.utf8)
        }
        let trickled = parse(input, mode: .byteByByte)
        #expect(trickled.error == .headersTooLarge)
        #expect(trickled.bytesFedAtError == 16 * 1024)
        #expect(parse(input, mode: .whole).error == .headersTooLarge)
        #expect(parse(input, mode: .sevenByteSlices).error == .headersTooLarge)
    }

    @Test func `a single endless header line is stopped at the limit`() {
        let input = Array("GET / HTTP/1.1\r\nHost: a\r\nX: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 30_000)
        let trickled = parse(input, mode: .byteByByte, limits: .init(maxHeaderBytes: 1000))
        #expect(trickled.error == .headersTooLarge)
        #expect(trickled.bytesFedAtError == 1000)
        #expect(trickled.error?.status.code == 431)
    }

    @Test func `a complete head one byte over maxHeaderBytes is rejected with 431`() {
        let prefix = "GET / HTTP/1.1\r\nHost: a\r\nX: "
        let padding = String(repeating: "p", count: 16 * 1024 - prefix.utf8.count - 3)
        expectFailure(prefix + padding + "\r\n\r\n", .headersTooLarge)
    }

    @Test func `more than maxHeaderCount fields are rejected with 431`() {
        let fields = (1...100).map { "X-\($0): v\r\n" }.joined()
        expectFailure("GET / HTTP/1.1\r\nHost: a\r\n\(fields)\r\n", .headersTooLarge)
        let threeFields = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n"
        #expect(statusCode(of: threeFields, limits: .init(maxHeaderCount: 2)) == 431)
    }

    @Test func `a target longer than maxTargetBytes is rejected with 414`() {
        let target = "/" + String(repeating: "t", count: 8 * 1024)
        expectFailure("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n", .uriTooLong)
        #expect(statusCode(of: "GET /12345 HTTP/1.1\r\nHost: a\r\n\r\n", limits: .init(maxTargetBytes: 5)) == 414)
    }

    @Test func `an overlong target is rejected before the request line ends`() {
        let input = Array("GET /".utf8) + Array(repeating: UInt8(ascii: "a"), count: 20_000)
        let trickled = parse(input, mode: .byteByByte)
        #expect(trickled.error == .uriTooLong)
        // "GET " plus one byte more than the limit.
        #expect(trickled.bytesFedAtError == 4 + 8 * 1024 + 1)
        #expect(parse(input, mode: .whole).error == .uriTooLong)
    }

    @Test func `a Content-Length over the body limit is rejected with 413 after the head`() throws {
        let outcome = parseAllWays("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n")
        #expect(outcome.heads.count == 1)
        #expect(outcome.error == .bodyTooLarge)
        #expect(outcome.error?.status.code == 413)
        #expect(outcome.events.count == 1)
    }

    @Test func `the Content-Length check waits for the first next call after the head`() throws {
        var parser = HTTPRequestParser(limits: .init(maxBodyBytes: 10))
        parser.append(contentsOf: Array("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world".utf8))
        guard case .head = try parser.next() else {
            Issue.record("expected a head")
            return
        }
        #expect(throws: HTTPParserError.bodyTooLarge) { try parser.next() }
    }

    @Test func `a body over an overridden per-request limit is rejected with 413`() {
        let input = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world"
        let outcome = parseAllWays(input) { _ in 10 }
        #expect(outcome.heads.count == 1)
        #expect(outcome.error == .bodyTooLarge)
        #expect(outcome.body.isEmpty)
        #expect(parseAllWays(input) { _ in 11 }.error == nil)
    }

    @Test func `a chunked body whose running total exceeds the limit is rejected with 413`() {
        let input =
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5\r\nhello\r\n5\r\nworld\r\n1\r\n!\r\n0\r\n\r\n"
        let outcome = parseAllWays(input) { _ in 10 }
        #expect(outcome.error == .bodyTooLarge)
        #expect(outcome.bodyString == "helloworld")
        let defaultLimit = parseAllWays(input, limits: .init(maxBodyBytes: 7))
        #expect(defaultLimit.error == .bodyTooLarge)
        #expect(defaultLimit.bodyString == "hello")
        #expect(parseAllWays(input) { _ in 11 }.error == nil)
    }

    @Test(arguments: [
        "Content-Length: 5\r\nTransfer-Encoding: chunked",
        "Transfer-Encoding: chunked\r\nContent-Length: 5",
        "Content-Length: 5, 6",
        "Content-Length: 5\r\nContent-Length: 6",
        "Content-Length: 5\r\nContent-Length: 5, 7",
    ])
    func `ambiguous framing is rejected with 400`(fields: String) {
        expectFailure("POST / HTTP/1.1\r\nHost: a\r\n\(fields)\r\n\r\nhello", .conflictingFraming)
    }

    @Test(arguments: ["-1", "+5", "abc", "5a", "0x5", "5 5", "", "5,", ",5", "99999999999999999999", "1.0"])
    func `invalid Content-Length values are rejected with 400`(value: String) {
        expectFailure("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \(value)\r\n\r\n", .invalidContentLength)
    }

    @Test(arguments: ["chunked, chunked", "gzip, chunked, chunked", "chunked, gzip, chunked"])
    func `chunked applied more than once is rejected with 400`(value: String) {
        // RFC 9112 §6.1: no sender may apply it twice; this is faulty framing, not a coding we lack.
        expectFailure(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \(value)\r\n\r\n",
            .malformedHeader(reason: "Transfer-Encoding applies chunked more than once"))
        #expect(statusCode(of: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \(value)\r\n\r\n") == 400)
    }

    @Test(arguments: ["gzip, chunked", "deflate, gzip, chunked"])
    func `codings before a final chunked are rejected with 501`(value: String) {
        expectFailure("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \(value)\r\n\r\n", .unsupportedTransferEncoding)
        #expect(statusCode(of: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \(value)\r\n\r\n") == 501)
    }

    @Test(arguments: ["gzip", "chunked, gzip", "identity", "chunked;q=1", "", "chunk", "xchunked", "\"chunked\""])
    func `a Transfer-Encoding that does not end with chunked is rejected with 400`(value: String) {
        // RFC 9112 §6.3: the body's length cannot be determined.
        #expect(statusCode(of: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \(value)\r\n\r\n") == 400)
    }

    @Test func `Transfer-Encoding split across two fields is still one coding list`() {
        expectFailure(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
            .unsupportedTransferEncoding)
    }

    @Test func `Transfer-Encoding in an HTTP 1_0 request is rejected`() {
        expectFailure(
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            .malformedHeader(reason: "Transfer-Encoding in an HTTP/1.0 request"))
    }

    @Test func `the HTTP 2 preface is rejected with 505 as soon as its request line is complete`() {
        let preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        expectFailure(preface, .unsupportedVersion)
        let trickled = parse(Array(preface.utf8), mode: .byteByByte)
        #expect(trickled.error == .unsupportedVersion)
        #expect(trickled.bytesFedAtError == "PRI * HTTP/2.0\r\n".utf8.count)
        #expect(trickled.error?.status.code == 505)
    }

    @Test(arguments: ["HTTP/3.0", "HTTP/2.0", "HTTP/0.9", "HTTP/9.9"])
    func `versions other than 1_0 and 1_1 are rejected with 505`(version: String) {
        expectFailure("GET / \(version)\r\nHost: a\r\n\r\n", .unsupportedVersion)
    }

    @Test(arguments: [
        "5x\r\nhello\r\n0\r\n\r\n",  // junk after the size
        "-5\r\nhello\r\n0\r\n\r\n",
        "+5\r\nhello\r\n0\r\n\r\n",
        "0x5\r\nhello\r\n0\r\n\r\n",
        "\r\nhello\r\n0\r\n\r\n",  // missing size
        ";ext\r\nhello\r\n0\r\n\r\n",
        "5 \r\nhello\r\n0\r\n\r\n",  // whitespace without an extension
        "00000000000000005\r\nhello\r\n0\r\n\r\n",  // 17 hex digits
        "5\r\nhelloX\r\n0\r\n\r\n",  // no CRLF after data
        "5\r\nhello\rX0\r\n\r\n",  // CR but no LF after data
        "5\r\nhello\n0\r\n\r\n",  // bare LF after data
        "5\nhello\r\n0\r\n\r\n",  // bare LF after the size
        "5;a=\u{01}\r\nhello\r\n0\r\n\r\n",  // control byte in an extension
        "5;a\rb\r\nhello\r\n0\r\n\r\n",  // bare CR in an extension
        "2;\r\naa\r\n0\r\n\r\n",  // an empty extension
        "5;a=\"abc;\r\nhello\r\n0\r\n\r\n",  // an unterminated quoted string
        "5;=x\r\nhello\r\n0\r\n\r\n",  // an extension without a name
        "5;a=\r\nhello\r\n0\r\n\r\n",  // "=" without a value
        "5;a b\r\nhello\r\n0\r\n\r\n",  // two names without ";"
        "5;a=\"x\"y\r\nhello\r\n0\r\n\r\n",  // junk after a quoted value
        "5;a=\"x\\\r\nhello\r\n0\r\n\r\n",  // a quoted-pair cut by the line end
        "5;a;;b\r\nhello\r\n0\r\n\r\n",  // an empty extension between two
        "5\r\nhello\r\n0\r\nX: y\n\r\n",  // bare LF in a trailer
        "5\r\nhello\r\n0\r\nBad Trailer: y\r\n\r\n",  // invalid trailer name
    ])
    func `malformed chunked framing is rejected with 400`(body: String) {
        let outcome = parseAllWays("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        switch outcome.error {
        case .malformedChunk?, .malformedHeader?:
            #expect(outcome.error?.status.code == 400)
        default:
            Issue.record("expected a 400 chunk error, got \(outcome)")
        }
        #expect(outcome.heads.count == 1)
    }

    @Test func `a chunk size that cannot fit in memory is rejected with 413`() {
        let outcome = parseAllWays(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\n")
        #expect(outcome.error == .bodyTooLarge)
    }

    @Test func `an endless chunk extension is cut off`() {
        let input =
            Array("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;".utf8)
            + Array(repeating: UInt8(ascii: "x"), count: 10_000)
        let outcome = parse(input, mode: .byteByByte, limits: .init(maxBodyBytes: .max))
        #expect(outcome.error == .malformedChunk(reason: "chunk size line too long"))
        #expect(parse(input, mode: .whole).error == .malformedChunk(reason: "chunk size line too long"))
    }

    @Test func `an endless trailer section is stopped by maxHeaderBytes`() {
        var input = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
        for index in 0..<1000 { input += "X-Trailer-\(index): value\r\n" }
        expectFailure(input, .headersTooLarge, headsBeforeError: 1)
    }

    @Test func `an HTTP 1_1 request without Host is rejected with 400`() {
        expectFailure("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", .missingHost)
        #expect(statusCode(of: "GET / HTTP/1.1\r\n\r\n") == 400)
    }

    @Test(arguments: [
        "a b", "user@host", "host/path", "a\\b", "host:port", "host:80:80", "[::1", "[]", "[::1]x", "[zz]", "[::1::2]", "[v.x]", "[1.2.3.4]", "a%zz",
        "host:123456",
    ])
    func `a Host that is not host[:port] is rejected with 400`(host: String) {
        expectFailure("GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n", .malformedHeader(reason: "invalid Host"))
    }

    @Test(arguments: [
        "", "example.com", "example.com:8080", "127.0.0.1:80", "[::1]:8080", "[v1.x]", "[2001:db8::7]", "[::ffff:1.2.3.4]", "a%41b",
        "x-y_z~!$&'()*+,;=", "host:",
    ])
    func `a Host of host[:port] is accepted`(host: String) {
        let outcome = parseAllWays("GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.heads.first?.authority.map(String.init) == host)
    }

    @Test func `more than one Host field is rejected with 400`() {
        expectFailure(
            "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", .malformedHeader(reason: "more than one Host field"))
    }

    @Test func `after an error the parser keeps failing with the same error`() throws {
        var parser = HTTPRequestParser()
        parser.append(contentsOf: Array("GET / HTTP/1.1\r\nHost : a\r\n\r\n".utf8))
        let expected = HTTPParserError.malformedHeader(reason: "whitespace between field name and colon")
        #expect(throws: expected) { try parser.next() }
        parser.append(contentsOf: Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
        #expect(throws: expected) { try parser.next() }
        #expect(throws: expected) { try parser.next() }
    }

    @Test func `an error in a pipelined request does not affect the requests before it`() {
        let outcome = parseAllWays(
            "GET /ok HTTP/1.1\r\nHost: a\r\n\r\nGET /bad HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n")
        #expect(outcome.heads.map(\.target) == ["/ok"])
        #expect(outcome.events.count == 2)
        #expect(outcome.error == .malformedHeader(reason: "missing colon"))
    }
}
