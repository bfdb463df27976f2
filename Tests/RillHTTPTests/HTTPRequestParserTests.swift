import HTTPTypes
import RillHTTP
import Testing

@Suite("Parsing valid requests")
struct HTTPRequestParserTests {
    @Test func `a simple GET yields its head and then end`() throws {
        let outcome = parseAllWays("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.events.count == 2)
        let head = try #require(outcome.heads.first)
        #expect(head.method == .get)
        #expect(head.target == "/")
        #expect(head.version == .http1_1)
        #expect(head.headerFields.pairs.map(\.0) == ["Host"])
        #expect(head.headerFields[HTTPField.Name("host")!] == "example.com")
        #expect(head.bodyFraming == .none)
        #expect(head.keepAlive)
        #expect(!head.expectsContinue)
        #expect(outcome.events.last == .end)
    }

    @Test func `the parser returns nil until a head is complete and after the request ended`() throws {
        var parser = HTTPRequestParser()
        #expect(try parser.next() == nil)
        parser.append(contentsOf: Array("GET / HTTP/1.1\r\nHost: a\r\n".utf8))
        #expect(try parser.next() == nil)
        parser.append(contentsOf: Array("\r\n".utf8))
        guard case .head = try parser.next() else {
            Issue.record("expected a head")
            return
        }
        #expect(try parser.next() == .end)
        #expect(try parser.next() == nil)
        #expect(parser.bufferedByteCount == 0)
    }

    @Test func `header fields keep their order, spelling and duplicates with values trimmed of OWS`() throws {
        let outcome = parseAllWays(
            "GET /x HTTP/1.1\r\n"
                + "Host: a\r\n"
                + "X-Custom-Name:   spaced value\t \r\n"
                + "accept: */*\r\n"
                + "Empty:\r\n"
                + "Cookie: a=1\r\n"
                + "cookie: b=2\r\n"
                + "User-Agent:curl/8.0\r\n"
                + "\r\n")
        let head = try #require(outcome.heads.first)
        let pairs = head.headerFields.pairs
        #expect(pairs.map(\.0) == ["Host", "X-Custom-Name", "accept", "Empty", "Cookie", "cookie", "User-Agent"])
        #expect(pairs.map(\.1) == ["a", "spaced value", "*/*", "", "a=1", "b=2", "curl/8.0"])
        #expect(head.headerFields[values: .cookie] == ["a=1", "b=2"])
        #expect(head.headerFields[.userAgent] == "curl/8.0")
    }

    @Test func `field values may contain obs-text bytes`() throws {
        var input = Array("GET / HTTP/1.1\r\nHost: a\r\nX-Latin: caf".utf8)
        input += [0xE9, 0xFF]
        input += Array("\r\n\r\n".utf8)
        let outcome = parseAllWays(input)
        let head = try #require(outcome.heads.first)
        let field = try #require(head.headerFields.first { $0.name.rawName == "X-Latin" })
        let bytes = field.withUnsafeBytesOfValue { Array($0) }
        #expect(bytes == Array("caf".utf8) + [0xE9, 0xFF])
    }

    @Test func `field values are validated at every byte position`() throws {
        // Long enough for the eight-bytes-at-a-time check plus a byte-wise tail.
        let base = Array("abcdefghijklmnopqrstu".utf8)
        for position in 1..<(base.count - 1) {
            for (byte, isAccepted) in [
                (UInt8(0x09), true), (0xA0, true), (0xFF, true), (0x00, false),
                (0x0D, false), (0x1F, false), (0x7F, false),
            ] as [(UInt8, Bool)] {
                var value = base
                value[position] = byte
                let input = Array("GET / HTTP/1.1\r\nHost: a\r\nX: ".utf8) + value + Array("\r\n\r\n".utf8)
                let outcome = parse(input, mode: .whole)
                if isAccepted {
                    let field = try #require(outcome.heads.first?.headerFields.first { $0.name.rawName == "X" })
                    #expect(field.withUnsafeBytesOfValue { Array($0) } == value, "byte \(byte) at \(position)")
                } else {
                    #expect(
                        outcome.error == .malformedHeader(reason: "invalid character in field value"),
                        "byte \(byte) at \(position)")
                }
            }
        }
    }

    @Test func `every token character is accepted in a field name and nothing else`() {
        let tokenCharacters = Set(
            "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for byte in UInt8(0)...UInt8(255) where byte != UInt8(ascii: ":") {
            let input = Array("GET / HTTP/1.1\r\nHost: a\r\nX".utf8) + [byte] + Array("Y: v\r\n\r\n".utf8)
            let outcome = parse(input, mode: .whole)
            if tokenCharacters.contains(byte) {
                #expect(outcome.error == nil, "byte \(byte) should be accepted")
            } else {
                #expect(outcome.error?.status.code == 400, "byte \(byte) should be rejected")
            }
        }
    }

    @Test func `unknown methods that are valid tokens are accepted`() throws {
        for method in ["PROPFIND", "M-SEARCH", "QUERY", "PATCH", "DELETE", "HEAD", "PUT", "OPTIONS", "TRACE"] {
            let outcome = parseAllWays("\(method) /r HTTP/1.1\r\nHost: a\r\n\r\n")
            let head = try #require(outcome.heads.first)
            #expect(head.method.rawValue == method)
        }
    }

    @Test func `path and query split the target at the first question mark`() throws {
        let cases: [(target: String, path: String, query: String?)] = [
            ("/", "/", nil),
            ("/a/b?x=1&y", "/a/b", "x=1&y"),
            ("/a?", "/a", ""),
            ("/a?b?c", "/a", "b?c"),
            ("/%2F%20?q=%3F", "/%2F%20", "q=%3F"),
            ("http://example.com/p/q?z", "/p/q", "z"),
            ("http://example.com", "/", nil),
            ("HTTPS://example.com:8443?x=1", "/", "x=1"),
        ]
        for (target, path, query) in cases {
            let outcome = parseAllWays("GET \(target) HTTP/1.1\r\nHost: example.com\r\n\r\n")
            let head = try #require(outcome.heads.first, "\(target)")
            #expect(head.target == target)
            #expect(head.path == path[...], "\(target)")
            #expect(head.query == query?[...], "\(target)")
        }
    }

    @Test func `OPTIONS accepts the asterisk-form target`() throws {
        let outcome = parseAllWays("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
        let head = try #require(outcome.heads.first)
        #expect(head.method == .options)
        #expect(head.target == "*")
        #expect(head.path == "*")
    }

    @Test(
        arguments: [
            ("HTTP/1.1", [], true),
            ("HTTP/1.1", ["Connection: close"], false),
            ("HTTP/1.1", ["Connection: CLOSE"], false),
            ("HTTP/1.1", ["Connection: keep-alive"], true),
            ("HTTP/1.1", ["Connection: Upgrade, Close"], false),
            ("HTTP/1.1", ["Connection: upgrade", "Connection: close"], false),
            ("HTTP/1.1", ["Connection: closed"], true),
            ("HTTP/1.1", ["X-Connection: close"], true),
            ("HTTP/1.0", [], false),
            ("HTTP/1.0", ["Connection: keep-alive"], true),
            ("HTTP/1.0", ["Connection: Keep-Alive"], true),
            ("HTTP/1.0", ["Connection: foo ,  keep-alive ,"], true),
            ("HTTP/1.0", ["Connection: keep-alive", "Connection: close"], false),
            ("HTTP/1.0", ["Connection: keep-alives"], false),
        ] as [(String, [String], Bool)])
    func `keep-alive follows the version default and Connection tokens`(
        version: String, fields: [String], keepAlive: Bool
    ) throws {
        let input = "GET / \(version)\r\nHost: a\r\n" + fields.map { $0 + "\r\n" }.joined() + "\r\n"
        let outcome = parseAllWays(input)
        let head = try #require(outcome.heads.first, "\(outcome)")
        #expect(head.keepAlive == keepAlive)
    }

    @Test(arguments: [
        ("HTTP/1.1", "Expect: 100-continue", true),
        ("HTTP/1.1", "Expect: 100-Continue", true),
        ("HTTP/1.1", "expect:  100-CONTINUE ", true),
        ("HTTP/1.1", "Expect: 200-ok", false),
        ("HTTP/1.1", "X-Expect: 100-continue", false),
        ("HTTP/1.0", "Expect: 100-continue", false),
    ])
    func `the expect 100-continue flag is set only for HTTP 1_1 requests that ask for it`(
        version: String, field: String, expected: Bool
    ) throws {
        let input = "POST / \(version)\r\nHost: a\r\n\(field)\r\nContent-Length: 1\r\n\r\nx"
        let head = try #require(parseAllWays(input).heads.first)
        #expect(head.expectsContinue == expected)
    }

    @Test func `HTTP 1_0 requests without Host are accepted`() throws {
        let outcome = parseAllWays("GET /old HTTP/1.0\r\n\r\n")
        let head = try #require(outcome.heads.first)
        #expect(head.version == .http1_0)
        #expect(head.headerFields.isEmpty)
        #expect(outcome.events.last == .end)
    }

    @Test func `a Content-Length body is delivered in full before end`() throws {
        let outcome = parseAllWays(
            "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world")
        #expect(outcome.error == nil)
        let head = try #require(outcome.heads.first)
        #expect(head.bodyFraming == .contentLength(11))
        #expect(outcome.events.count == 3)
        #expect(outcome.bodyString == "hello world")
        #expect(outcome.events.last == .end)
    }

    @Test func `a zero Content-Length has no body events`() throws {
        let outcome = parseAllWays("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
        #expect(outcome.heads.first?.bodyFraming == .contentLength(0))
        #expect(outcome.events.count == 2)
        #expect(outcome.events.last == .end)
    }

    @Test func `identical repeated Content-Length values are accepted`() throws {
        let list = parseAllWays("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello")
        #expect(list.heads.first?.bodyFraming == .contentLength(5))
        #expect(list.bodyString == "hello")
        let fields = parseAllWays(
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\nhello")
        #expect(fields.heads.first?.bodyFraming == .contentLength(5))
        #expect(fields.bodyString == "hello")
    }

    @Test func `body bytes are emitted as they arrive rather than buffered until complete`() throws {
        var parser = HTTPRequestParser()
        parser.append(contentsOf: Array("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc".utf8))
        guard case .head = try parser.next() else {
            Issue.record("expected a head")
            return
        }
        #expect(try parser.next() == .body(Array("abc".utf8)))
        #expect(try parser.next() == nil)
        parser.append(contentsOf: Array("defghij".utf8))
        #expect(try parser.next() == .body(Array("defghij".utf8)))
        #expect(try parser.next() == .end)
    }

    @Test func `a chunked body with extensions and trailers is decoded`() throws {
        let input =
            "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "4;name=value\r\nWiki\r\n"
            + "5 ; ext ; other=\"quo\\\"ted; x\" ;\tlast = v\r\npedia\r\n"
            + "E\r\n in\r\n\r\nchunks.\r\n"
            + "0\r\nExpires: never\r\nX-Checksum: abc\r\n\r\n"
            + "GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
        let outcome = parseAllWays(input)
        #expect(outcome.error == nil)
        #expect(outcome.heads.map(\.target) == ["/c", "/next"])
        #expect(outcome.heads.first?.bodyFraming == .chunked)
        #expect(outcome.bodyString == "Wikipedia in\r\n\r\nchunks.")
        #expect(outcome.events.count == 5)
        #expect(outcome.events[2] == .end)
        #expect(outcome.events[4] == .end)
        // Trailers are discarded, not merged into the head.
        #expect(outcome.heads.first?.headerFields.contains(.expires) == false)
    }

    @Test func `chunk sizes accept upper and lower case hex and leading zeros`() {
        let input =
            "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: Chunked\r\n\r\n"
            + "0000A\r\n0123456789\r\n"
            + "a\r\nabcdefghij\r\n"
            + "000\r\n\r\n"
        let outcome = parseAllWays(input)
        #expect(outcome.error == nil)
        #expect(outcome.bodyString == "0123456789abcdefghij")
        #expect(outcome.events.last == .end)
    }

    @Test func `a large body arriving in many pieces is reassembled exactly`() throws {
        let body = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let head = Array("PUT /blob HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
        let outcome = parse(head + body, mode: .sevenByteSlices)
        #expect(outcome.error == nil)
        #expect(outcome.body == body)
        #expect(outcome.events.last == .end)
    }

    @Test func `a large chunked body round-trips through the serializer`() throws {
        let body = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var input = Array("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        var offset = 0
        var chunkSize = 1
        while offset < body.count {
            let end = min(offset + chunkSize, body.count)
            HTTPResponseSerializer.writeChunk(body[offset..<end], into: &input)
            offset = end
            chunkSize = chunkSize * 3 + 1
        }
        input += HTTPResponseSerializer.lastChunk
        let whole = parse(input, mode: .whole)
        let sliced = parse(input, mode: .sevenByteSlices)
        #expect(whole.error == nil)
        #expect(whole.body == body)
        #expect(sliced == whole)
    }

    @Test func `one hundred pipelined requests in one append come out in order`() throws {
        var input = ""
        for index in 0..<100 {
            if index % 3 == 0 {
                let length = String(index).utf8.count
                input += "POST /r/\(index) HTTP/1.1\r\nHost: a\r\nContent-Length: \(length)\r\n\r\n\(index)"
            } else if index % 3 == 1 {
                input += "PUT /r/\(index) HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                input += "\(String(String(index).utf8.count, radix: 16))\r\n\(index)\r\n0\r\n\r\n"
            } else {
                input += "GET /r/\(index) HTTP/1.1\r\nHost: a\r\n\r\n"
            }
        }
        let outcome = parseAllWays(input)
        #expect(outcome.error == nil)
        #expect(outcome.heads.map(\.target) == (0..<100).map { "/r/\($0)" })
        // Walk the event list: each request is head, its body if any, end.
        var events = outcome.events[...]
        for index in 0..<100 {
            guard case .head(let head) = events.popFirst() else {
                Issue.record("missing head \(index)")
                return
            }
            #expect(head.target == "/r/\(index)")
            if index % 3 != 2 {
                #expect(events.popFirst() == .body(Array(String(index).utf8)))
            }
            #expect(events.popFirst() == .end, "request \(index)")
        }
        #expect(events.isEmpty)
    }

    @Test func `splitting the input into two appends at any point gives the same events`() {
        let input = Array(
            ("\r\nGET /a?b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                + "POST /c HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                + "PUT /d HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n"
                + "GET /e HTTP/1.0\nConnection: keep-alive\n\n").utf8)
        let reference = parse(input, mode: .whole)
        #expect(reference.error == nil)
        #expect(reference.heads.map(\.target) == ["/a?b", "/c", "/d", "/e"])
        for split in 1..<input.count {
            var parser = HTTPRequestParser()
            var outcome = ParseOutcome()
            for part in [input[..<split], input[split...]] {
                parser.append(contentsOf: part)
                while let event = try? parser.next() {
                    if case .body(let bytes) = event, case .body(let previous)? = outcome.events.last {
                        outcome.events[outcome.events.count - 1] = .body(previous + bytes)
                    } else {
                        outcome.events.append(event)
                    }
                }
            }
            #expect(outcome.events == reference.events, "split at \(split)")
        }
    }

    @Test func `pipelined bytes stay buffered until consumed`() throws {
        var parser = HTTPRequestParser()
        let first = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
        let second = "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n"
        parser.append(contentsOf: Array((first + second).utf8))
        #expect(parser.bufferedByteCount == first.utf8.count + second.utf8.count)
        guard case .head(let head) = try parser.next() else {
            Issue.record("expected a head")
            return
        }
        #expect(head.target == "/1")
        #expect(parser.bufferedByteCount == second.utf8.count)
        #expect(try parser.next() == .end)
        guard case .head(let secondHead) = try parser.next() else {
            Issue.record("expected a second head")
            return
        }
        #expect(secondHead.target == "/2")
        #expect(parser.bufferedByteCount == 0)
    }

    @Test func `up to two empty lines before a request line are ignored`() throws {
        let outcome = parseAllWays("\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.heads.count == 1)
        // Also between pipelined requests, e.g. the stray CRLF old clients send after a POST body.
        let pipelined = parseAllWays(
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(pipelined.error == nil)
        #expect(pipelined.heads.map(\.target) == ["/", "/2"])
    }

    @Test func `bare LF line endings are accepted in the head`() throws {
        let outcome = parseAllWays("GET /lf HTTP/1.1\nHost: a\nX: y\r\n\nGET /crlf HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.heads.map(\.target) == ["/lf", "/crlf"])
        #expect(outcome.heads.first?.headerFields.pairs.map(\.1) == ["a", "y"])
    }

    @Test func `absolute-form targets are accepted and keep the target as sent`() throws {
        let outcome = parseAllWays("GET http://example.com:8080/a%20b?q HTTP/1.1\r\nHost: example.com:8080\r\n\r\n")
        let head = try #require(outcome.heads.first)
        #expect(head.target == "http://example.com:8080/a%20b?q")
        #expect(head.path == "/a%20b")
        #expect(head.query == "q")
    }

    @Test func `an absolute-form target's authority replaces the Host field`() throws {
        let outcome = parseAllWays(
            "GET http://example.com:8080/a?q HTTP/1.1\r\nHost: other.example\r\n\r\n"
                + "GET https://only.example HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /b HTTP/1.1\r\nHost: host.example\r\n\r\n"
                + "GET /c HTTP/1.0\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.heads.map(\.authority) == ["example.com:8080", "only.example", "host.example", nil])
        #expect(outcome.heads.map(\.path) == ["/a", "/", "/b", "/c"])
    }

    @Test func `a request head of exactly maxHeaderBytes is accepted`() {
        let prefix = "GET / HTTP/1.1\r\nHost: a\r\nX: "
        let padding = String(repeating: "p", count: 16 * 1024 - prefix.utf8.count - 4)
        let input = prefix + padding + "\r\n\r\n"
        #expect(input.utf8.count == 16 * 1024)
        let outcome = parseAllWays(input)
        #expect(outcome.error == nil)
        #expect(outcome.heads.count == 1)
    }

    @Test func `a target of exactly maxTargetBytes is accepted`() throws {
        let target = "/" + String(repeating: "t", count: 8 * 1024 - 1)
        let outcome = parseAllWays("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.heads.first?.target == target)
    }

    @Test func `exactly maxHeaderCount fields are accepted`() {
        let fields = (1..<100).map { "X-\($0): v\r\n" }.joined()
        let outcome = parseAllWays("GET / HTTP/1.1\r\nHost: a\r\n\(fields)\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.heads.first?.headerFields.count == 100)
    }

    @Test func `a per-request body limit can raise the default for one request only`() {
        let limits = HTTPRequestParser.Limits(maxBodyBytes: 4)
        let input =
            "POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789"
            + "POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789"
        let outcome = parseAllWays(input, limits: limits) { head in head.target == "/big" ? 100 : nil }
        #expect(outcome.heads.map(\.target) == ["/big", "/small"])
        #expect(outcome.error == .bodyTooLarge)
        #expect(outcome.bodyString == "0123456789")
    }

    @Test func `raising the limit after the head admits a chunked body over the default`() {
        let limits = HTTPRequestParser.Limits(maxBodyBytes: 4)
        let input = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        let outcome = parseAllWays(input, limits: limits) { _ in 5 }
        #expect(outcome.error == nil)
        #expect(outcome.bodyString == "hello")
    }

    @Test func `a lent buffer is used as the receive buffer and taken back once consumed, never while bytes wait`() throws {
        var parser = HTTPRequestParser()
        #expect(parser.hasNoBuffer)
        var spare: [UInt8] = Array("left over".utf8)
        spare.reserveCapacity(512)
        let spareCapacity = spare.capacity
        parser.adoptBuffer(&spare)
        #expect(!parser.hasNoBuffer)
        #expect(spare.isEmpty && spare.capacity == 0)  // the storage moved, emptied
        #expect(parser.bufferedByteCount == 0)  // nothing of the spare's old bytes is parsed
        // A full request and half of the next: the buffer cannot be taken while bytes wait.
        parser.append(contentsOf: Array("GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HT".utf8))
        guard case .head(let first) = try parser.next() else {
            Issue.record("expected the first head")
            return
        }
        #expect(first.target == "/a")
        #expect(try parser.next() == .end)
        #expect(try parser.next() == nil)
        #expect(parser.takeBufferIfConsumed() == nil)
        parser.append(contentsOf: Array("TP/1.1\r\nHost: a\r\n\r\n".utf8))
        guard case .head(let second) = try parser.next() else {
            Issue.record("expected the second head")
            return
        }
        #expect(second.target == "/b")
        #expect(try parser.next() == .end)
        let taken = parser.takeBufferIfConsumed()
        #expect(taken?.isEmpty == true && (taken?.capacity ?? 0) >= spareCapacity)
        #expect(parser.hasNoBuffer)
        // The parser goes on with a buffer of its own.
        parser.append(contentsOf: Array("GET /c HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
        guard case .head(let third) = try parser.next() else {
            Issue.record("expected the third head")
            return
        }
        #expect(third.target == "/c")
        // A parser that has a buffer keeps it: a second spare is not taken.
        var another: [UInt8] = [1, 2, 3]
        parser.adoptBuffer(&another)
        #expect(another == [1, 2, 3])
    }

    @Test func `recycled header fields serve the next head, and fields still held elsewhere stay as they were`() throws {
        var parser = HTTPRequestParser()
        parser.append(contentsOf: Array("GET /a HTTP/1.1\r\nHost: a\r\nX-First: 1\r\nX-Secret: s\r\n\r\n".utf8))
        guard case .head(let first) = try parser.next() else {
            Issue.record("expected the first head")
            return
        }
        #expect(try parser.next() == .end)
        // The caller keeps a copy (as a handler that stored its request would) and recycles.
        let kept = first.headerFields
        parser.recycleHeaderFields(first.headerFields)
        parser.append(contentsOf: Array("GET /b HTTP/1.1\r\nHost: b\r\n\r\n".utf8))
        guard case .head(let second) = try parser.next() else {
            Issue.record("expected the second head")
            return
        }
        #expect(second.headerFields.map(\.name.rawName) == ["Host"])
        #expect(second.headerFields[HTTPField.Name("host")!] == "b")
        #expect(kept.map(\.value) == ["a", "1", "s"])
        #expect(first.headerFields.map(\.value) == ["a", "1", "s"])
        #expect(try parser.next() == .end)
        // Recycled with no other holder: the third head gets exactly its own fields.
        parser.recycleHeaderFields(second.headerFields)
        parser.append(contentsOf: Array("GET /c HTTP/1.1\r\nHost: c\r\nX-Third: 3\r\n\r\n".utf8))
        guard case .head(let third) = try parser.next() else {
            Issue.record("expected the third head")
            return
        }
        #expect(third.headerFields.map(\.value) == ["c", "3"])
        #expect(second.headerFields.map(\.value) == ["b"])
        // A head without fields (HTTP/1.0) leaves the spare for the next one.
        parser.recycleHeaderFields(third.headerFields)
        #expect(try parser.next() == .end)
        parser.append(contentsOf: Array("GET /d HTTP/1.0\r\n\r\nGET /e HTTP/1.1\r\nHost: e\r\n\r\n".utf8))
        guard case .head(let fourth) = try parser.next() else {
            Issue.record("expected the fourth head")
            return
        }
        #expect(fourth.headerFields.isEmpty)
        #expect(try parser.next() == .end)
        guard case .head(let fifth) = try parser.next() else {
            Issue.record("expected the fifth head")
            return
        }
        #expect(fifth.headerFields.map(\.value) == ["e"])
        #expect(third.headerFields.map(\.value) == ["c", "3"])
    }

    @Test func `a recycled field is replaced by the same name spelled in another case, as sent`() throws {
        var parser = HTTPRequestParser()
        // Two requests on one connection; the first one's fields are recycled for the second.
        var heads: [HTTPRequestHead] = []
        for request in ["GET /a HTTP/1.1\r\nHOST: a\r\nx-token: t\r\n\r\n", "GET /b HTTP/1.1\r\nHost: a\r\nX-Token: t\r\n\r\n"] {
            if let earlier = heads.last { parser.recycleHeaderFields(earlier.headerFields) }
            parser.append(contentsOf: Array(request.utf8))
            let event = try parser.next()
            guard case .head(let head) = event else {
                Issue.record("expected a head, got \(String(describing: event))")
                return
            }
            heads.append(head)
            #expect(try parser.next() == .end)
        }
        #expect(heads[1].headerFields.map(\.name.rawName) == ["Host", "X-Token"])
        #expect(heads[1].headerFields.map(\.value) == ["a", "t"])
        #expect(heads[0].headerFields.map(\.name.rawName) == ["HOST", "x-token"])
    }
}
