import HTTPTypes
import RillHTTP
import Testing

@Suite("Serializing responses")
struct HTTPResponseSerializerTests {
    private func head(_ response: HTTPResponse, version: HTTPVersion = .http1_1) -> String {
        var buffer: [UInt8] = []
        HTTPResponseSerializer.writeHead(response, version: version, into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    @Test func `a head is the status line, one line per field and an empty line`() {
        var fields = HTTPFields()
        fields[.contentType] = "text/plain"
        fields[.contentLength] = "5"
        fields.append(HTTPField(name: HTTPField.Name("x-lower")!, value: "a b"))
        #expect(
            head(HTTPResponse(status: .ok, headerFields: fields))
                == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nx-lower: a b\r\n\r\n")
    }

    @Test func `a head without fields ends right after the status line`() {
        #expect(head(HTTPResponse(status: .noContent)) == "HTTP/1.1 204 No Content\r\n\r\n")
    }

    @Test func `repeated fields are written once per value in order`() {
        var fields = HTTPFields()
        fields.append(HTTPField(name: .setCookie, value: "a=1"))
        fields.append(HTTPField(name: .setCookie, value: "b=2"))
        #expect(
            head(HTTPResponse(status: .found, headerFields: fields))
                == "HTTP/1.1 302 Found\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n")
    }

    @Test func `statuses built from integer literals get the standard reason phrase`() {
        #expect(head(HTTPResponse(status: 404)) == "HTTP/1.1 404 Not Found\r\n\r\n")
        #expect(head(HTTPResponse(status: 431)) == "HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n")
        #expect(head(HTTPResponse(status: 599)) == "HTTP/1.1 599 \r\n\r\n")
    }

    @Test func `a custom reason phrase is written as given`() {
        let status = HTTPResponse.Status(code: 299, reasonPhrase: "Mostly Fine")
        #expect(head(HTTPResponse(status: status)) == "HTTP/1.1 299 Mostly Fine\r\n\r\n")
    }

    @Test func `the version is written as requested`() {
        #expect(head(HTTPResponse(status: .ok), version: .http1_0) == "HTTP/1.0 200 OK\r\n\r\n")
    }

    @Test func `field values with line breaks cannot inject headers`() {
        var fields = HTTPFields()
        fields.append(HTTPField(name: HTTPField.Name("X-Evil")!, value: "a\r\nSet-Cookie: pwned"))
        let status = HTTPResponse.Status(code: 200, reasonPhrase: "OK\r\nX: y")
        var buffer: [UInt8] = []
        HTTPResponseSerializer.writeHead(HTTPResponse(status: status, headerFields: fields), into: &buffer)
        let text = String(decoding: buffer, as: UTF8.self)
        #expect(text == "HTTP/1.1 200 OK  X: y\r\nX-Evil: a  Set-Cookie: pwned\r\n\r\n")
    }

    @Test func `a status and fields serialize exactly as the response they would make`() {
        var fields = HTTPFields()
        fields[.contentType] = "text/plain"
        for status in [HTTPResponse.Status.ok, .notFound, HTTPResponse.Status(code: 499), HTTPResponse.Status(code: 299, reasonPhrase: "Odd")] {
            for version in [HTTPVersion.http1_0, .http1_1] {
                var fromResponse: [UInt8] = []
                HTTPResponseSerializer.writeStatusLineAndFields(
                    HTTPResponse(status: status, headerFields: fields), version: version, into: &fromResponse)
                var fromParts: [UInt8] = []
                HTTPResponseSerializer.writeStatusLineAndFields(status: status, headerFields: fields, version: version, into: &fromParts)
                #expect(fromParts == fromResponse)
            }
        }
    }

    @Test func `writeHead appends to what the buffer already holds`() {
        var buffer = Array("prefix".utf8)
        HTTPResponseSerializer.writeHead(HTTPResponse(status: .ok), into: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self) == "prefixHTTP/1.1 200 OK\r\n\r\n")
    }

    @Test func `a chunk is its lowercase hex size, CRLF, the data and CRLF`() {
        var buffer: [UInt8] = []
        HTTPResponseSerializer.writeChunk(Array("hello".utf8), into: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self) == "5\r\nhello\r\n")

        buffer = []
        let large = [UInt8](repeating: UInt8(ascii: "z"), count: 4011)
        HTTPResponseSerializer.writeChunk(large, into: &buffer)
        #expect(Array(buffer.prefix(5)) == Array("fab\r\n".utf8))
        #expect(buffer.count == 5 + 4011 + 2)
        #expect(Array(buffer.suffix(2)) == Array("\r\n".utf8))

        buffer = []
        HTTPResponseSerializer.writeChunk(Array(repeating: UInt8(0), count: 16), into: &buffer)
        #expect(Array(buffer.prefix(4)) == Array("10\r\n".utf8))
    }

    @Test func `a chunk can be written from raw memory`() {
        var buffer: [UInt8] = []
        let bytes: [UInt8] = Array("raw bytes!".utf8)
        bytes.withUnsafeBytes { HTTPResponseSerializer.writeChunk($0, into: &buffer) }
        #expect(String(decoding: buffer, as: UTF8.self) == "a\r\nraw bytes!\r\n")
    }

    @Test func `an empty chunk writes nothing because it would end the body`() {
        var buffer: [UInt8] = [1, 2, 3]
        HTTPResponseSerializer.writeChunk([UInt8](), into: &buffer)
        #expect(buffer == [1, 2, 3])
    }

    @Test func `the last chunk is a zero size and an empty trailer section`() {
        #expect(HTTPResponseSerializer.lastChunk == Array("0\r\n\r\n".utf8))
    }

    @Test func `a chunk header written into raw memory is the one written into an array`() {
        for size in [1, 9, 10, 15, 16, 255, 256, 4_096, 65_535, 1 << 40, Int.max] {
            var array: [UInt8] = []
            HTTPResponseSerializer.writeChunkHeader(size: size, into: &array)
            let raw = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 18) { buffer in
                Array(buffer[..<HTTPResponseSerializer.writeChunkHeader(size: size, into: buffer)])
            }
            #expect(raw == array, "\(size)")
        }
    }
}
