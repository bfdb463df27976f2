import Foundation
import HTTPTypes
import RillCore
import RillHTTP
import RillTesting
import Testing

@testable import Rill

#if canImport(Glibc)
    import Glibc
#endif

/// A directory of files to serve, made fresh for one test and removed after it.
private final class Fixture: Sendable {
    let root: String
    let outside: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("rill-static-\(UUID().uuidString)").path
        root = base + "/public"
        outside = base + "/private"
        let manager = FileManager.default
        for directory in [root, outside, root + "/docs", root + "/empty-dir", root + "/.git"] {
            try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        try write("index.html", "<h1>home</h1>")
        try write("app.js", "console.log('rill')\n")
        try write("docs/index.html", "<h1>docs</h1>")
        try write("hello world.txt", "spaces")
        try write("café.txt", "accent")
        try write("empty.txt", "")
        try write(".env", "SECRET=1")
        try write(".git/config", "[core]")
        try "top secret".write(toFile: outside + "/secret.txt", atomically: true, encoding: .utf8)
        try manager.createSymbolicLink(atPath: root + "/leak.txt", withDestinationPath: outside + "/secret.txt")
        try manager.createSymbolicLink(atPath: root + "/leak-dir", withDestinationPath: outside)
        try manager.createSymbolicLink(atPath: root + "/alias.js", withDestinationPath: "app.js")
        try manager.createSymbolicLink(atPath: root + "/env-link", withDestinationPath: ".env")
        #expect(mkfifo(root + "/pipe", 0o600) == 0)
    }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: root + "/" + name, atomically: false, encoding: .utf8)
    }

    /// Writes `byteCount` bytes whose value at offset `i` is `i % 251`, so any slice can be checked.
    func writePattern(_ name: String, byteCount: Int) throws {
        let bytes = (0..<byteCount).map { UInt8($0 % 251) }
        try Data(bytes).write(to: URL(fileURLWithPath: root + "/" + name))
    }

    deinit {
        try? FileManager.default.removeItem(atPath: (root as NSString).deletingLastPathComponent)
    }
}

/// `router.files` on a live server: headers, validators, ranges, HEAD, index files, refusals,
/// streaming under backpressure.
@Suite struct FileServerTests {
    private func router(_ fixture: Fixture, _ configure: (Router) throws -> Void = { _ in }) throws -> Router {
        let router = Router()
        try router.files("/static", directory: fixture.root)
        router.get("/ping") { _, _ in "pong" }
        try configure(router)
        return router
    }

    private func get(_ port: Int, _ target: String, method: HTTPRequest.Method = .get, _ lines: [String] = []) async throws -> TestResponse {
        try await converse(port: port) { connection in
            try connection.send(request(target, method: method.rawValue, lines))
            return try connection.readResponse(forRequestMethod: method)
        }
    }

    @Test func `a file is served with its type, length and validators`() async throws {
        let fixture = try Fixture()
        try await withLiveServer(try router(fixture)) { _, port in
            let response = try await get(port, "/static/app.js")
            #expect(response.status == .ok)
            #expect(response.bodyText == "console.log('rill')\n")
            #expect(response.headerFields[.contentType] == "text/javascript; charset=utf-8")
            #expect(response.headerFields[.contentLength] == "20")
            #expect(response.headerFields[.transferEncoding] == nil)
            #expect(response.headerFields[.acceptRanges] == "bytes")
            #expect(response.headerFields[.cacheControl] == "no-cache")
            #expect(response.headerFields[.xContentTypeOptions] == "nosniff")
            let etag = try #require(response.headerFields[.eTag])
            #expect(etag.hasPrefix("\"") && etag.hasSuffix("\""))
            let lastModified = try #require(response.headerFields[.lastModified])
            #expect(HTTPDate.secondsSince1970(parsing: lastModified) != nil)

            #expect(try await get(port, "/static/hello%20world.txt").bodyText == "spaces")
            #expect(try await get(port, "/static/caf%C3%A9.txt").bodyText == "accent")
            #expect(try await get(port, "/static/alias.js").bodyText == "console.log('rill')\n", "a link inside the root is followed")
            let empty = try await get(port, "/static/empty.txt")
            #expect(empty.status == .ok && empty.body.isEmpty && empty.headerFields[.contentLength] == "0")
        }
    }

    @Test func `HEAD answers the same head without the body`() async throws {
        let fixture = try Fixture()
        try fixture.writePattern("big.bin", byteCount: 300_000)
        try await withLiveServer(try router(fixture)) { _, port in
            let (head, get) = try await converse(port: port) { connection in
                try connection.send(request("/static/big.bin", method: "HEAD"))
                let head = try connection.readResponse(forRequestMethod: .head)
                // The same connection goes on: nothing of a body followed the HEAD's head.
                try connection.send(request("/static/big.bin"))
                return (head, try connection.readResponse())
            }
            #expect(head.status == .ok)
            #expect(head.body.isEmpty)
            #expect(head.headerFields[.contentLength] == "300000")
            #expect(get.headerFields[.contentLength] == "300000")
            #expect(head.headerFields[.eTag] == get.headerFields[.eTag])
            #expect(get.body.count == 300_000)
        }
    }

    @Test func `a matching validator answers 304 without a body`() async throws {
        let fixture = try Fixture()
        try await withLiveServer(try router(fixture)) { _, port in
            let first = try await get(port, "/static/index.html")
            let etag = try #require(first.headerFields[.eTag])
            let lastModified = try #require(first.headerFields[.lastModified])
            let byTag = try await get(port, "/static/index.html", ["If-None-Match: \"nope\", \(etag)"])
            #expect(byTag.status == .notModified)
            #expect(byTag.body.isEmpty)
            #expect(byTag.headerFields[.eTag] == etag)
            #expect(try await get(port, "/static/index.html", ["If-Modified-Since: \(lastModified)"]).status == .notModified)
            #expect(try await get(port, "/static/index.html", ["If-None-Match: \"stale\""]).status == .ok)
            #expect(try await get(port, "/static/index.html", ["If-Match: \"stale\""]).status == .preconditionFailed)
            // A changed file gets a new tag: the old one no longer matches.
            try await Task.sleep(for: .milliseconds(20))
            try fixture.write("index.html", "<h1>home, changed</h1>")
            let changed = try await get(port, "/static/index.html", ["If-None-Match: \(etag)"])
            #expect(changed.status == .ok)
            #expect(changed.bodyText == "<h1>home, changed</h1>")
        }
    }

    @Test func `a single range is answered 206, an unsatisfiable one 416`() async throws {
        let fixture = try Fixture()
        try fixture.writePattern("data.bin", byteCount: 1000)
        try await withLiveServer(try router(fixture)) { _, port in
            let partial = try await get(port, "/static/data.bin", ["Range: bytes=10-19"])
            #expect(partial.status == .partialContent)
            #expect(partial.headerFields[.contentRange] == "bytes 10-19/1000")
            #expect(partial.headerFields[.contentLength] == "10")
            #expect(partial.body == (10..<20).map { UInt8($0 % 251) })

            let suffix = try await get(port, "/static/data.bin", ["Range: bytes=-3"])
            #expect(suffix.headerFields[.contentRange] == "bytes 997-999/1000")
            #expect(suffix.body == (997..<1000).map { UInt8($0 % 251) })

            let open = try await get(port, "/static/data.bin", ["Range: bytes=990-"])
            #expect(open.body.count == 10)

            let huge = try await get(port, "/static/data.bin", ["Range: bytes=0-99999999999999999999999999"])
            #expect(huge.status == .partialContent)
            #expect(huge.headerFields[.contentRange] == "bytes 0-999/1000")

            let past = try await get(port, "/static/data.bin", ["Range: bytes=1000-"])
            #expect(past.status == .rangeNotSatisfiable)
            #expect(past.headerFields[.contentRange] == "bytes */1000")

            let several = try await get(port, "/static/data.bin", ["Range: bytes=0-1,5-6"])
            #expect(several.status == .ok, "several ranges get the whole file")
            #expect(several.body.count == 1000)

            let etag = try #require(several.headerFields[.eTag])
            #expect(try await get(port, "/static/data.bin", ["Range: bytes=0-1", "If-Range: \(etag)"]).status == .partialContent)
            #expect(try await get(port, "/static/data.bin", ["Range: bytes=0-1", "If-Range: \"old\""]).status == .ok)

            let headRange = try await get(port, "/static/data.bin", method: .head, ["Range: bytes=0-9"])
            #expect(headRange.status == .partialContent && headRange.headerFields[.contentLength] == "10" && headRange.body.isEmpty)
        }
    }

    @Test func `a directory redirects to its slash, then serves its index`() async throws {
        let fixture = try Fixture()
        try await withLiveServer(try router(fixture)) { _, port in
            let redirect = try await get(port, "/static/docs?x=1")
            #expect(redirect.status == .temporaryRedirect)
            #expect(redirect.headerFields[.location] == "/static/docs/?x=1")
            #expect(try await get(port, "/static/docs/").bodyText == "<h1>docs</h1>")
            #expect(try await get(port, "/static").headerFields[.location] == "/static/")
            let home = try await get(port, "/static/")
            #expect(home.bodyText == "<h1>home</h1>")
            #expect(home.headerFields[.contentType] == "text/html; charset=utf-8")
            #expect(try await get(port, "/static/empty-dir/").status == .notFound, "no index, no listing")
            #expect(try await get(port, "/static/empty-dir").status == .temporaryRedirect)
            // The location is rebuilt from decoded segments: never `//host`.
            #expect(try await get(port, "//static//docs").headerFields[.location] == "/static/docs/")
        }
    }

    @Test func `traversal, encoded separators, hidden files and links out of the root answer 404`() async throws {
        let fixture = try Fixture()
        try await withLiveServer(try router(fixture)) { _, port in
            for target in [
                "/static/../private/secret.txt", "/static/%2e%2e/private/secret.txt", "/static/%2E%2E%2Fprivate%2Fsecret.txt",
                "/static/docs%2Findex.html", "/static/docs%5Cindex.html", "/static/./index.html",
                "/static/.env", "/static/%2eenv", "/static/.git/config", "/static/leak.txt", "/static/leak-dir/secret.txt",
                "/static/env-link", "/static/pipe", "/static/missing.txt", "/static/index.html/x", "/static/index.html/",
            ] {
                let response = try await get(port, target)
                #expect(response.status == .notFound, "\(target): \(response.status)")
                #expect(!response.bodyText.contains("top secret") && !response.bodyText.contains("SECRET"), "\(target)")
            }
            // Paths that cannot be decoded never reach the files: the router answers 400.
            for target in ["/static/index.html%00.js", "/static/%zz", "/static/%4", "/static/%FF.txt", "/static/%C3%28"] {
                let response = try await get(port, target)
                #expect(response.status == .badRequest, "\(target): \(response.status)")
            }
            let post = try await get(port, "/static/index.html", method: .post)
            #expect(post.status == .methodNotAllowed)
            #expect(post.headerFields[.allow] == "GET, HEAD, OPTIONS")
            // None of it took the server down or blocked it.
            #expect(try await get(port, "/ping").bodyText == "pong")
        }
    }

    @Test func `a missing directory fails at registration`() throws {
        #expect(throws: UVError.self) { try Router().files("/static", directory: "/nonexistent/rill-\(UUID().uuidString)") }
        let fixture = try Fixture()
        #expect(throws: UVError.self) { try Router().files("/static", directory: fixture.root + "/index.html") }
    }

    @Test func `a group serves files under its prefix and middleware, and a handler can send one file`() async throws {
        let fixture = try Fixture()
        let router = Router()
        let group = router.group("/v1/:tenant")
        try group.files("/assets", directory: fixture.root + "/docs")
        let pages = try FileServer(directory: fixture.root)
        router.get("/") { request, context in try await pages.response(to: request, context: context, file: "index.html") }
        router.get("/bad") { request, context in try await pages.response(to: request, context: context, file: "../private/secret.txt") }
        try await withLiveServer(router) { (_, port) async throws -> Void in
            #expect(try await get(port, "/v1/acme/assets/index.html").bodyText == "<h1>docs</h1>")
            #expect(try await get(port, "/").bodyText == "<h1>home</h1>")
            #expect(try await get(port, "/bad").status == .notFound)
        }
    }

    @Test func `the in-process test client streams a file too`() async throws {
        let fixture = try Fixture()
        let app = try Application(router: try router(fixture), configuration: testConfiguration(), logger: quietLogger)
        try await app.test(.router) { client in
            let response = try await client.execute("/static/app.js")
            #expect(response.status == .ok)
            #expect(response.bodyText == "console.log('rill')\n")
            #expect(try await client.execute("/static/../private/secret.txt").status == .notFound)
        }
    }

    @Test func `a file changed between head and body closes the connection`() async throws {
        let fixture = try Fixture()
        try fixture.writePattern("moving.bin", byteCount: 100_000)
        let pages = try FileServer(directory: fixture.root)
        let router = Router()
        router.get("/moving") { request, context in
            let response = try await pages.response(to: request, context: context, file: "moving.bin")
            try fixture.writePattern("moving.bin", byteCount: 50_000)  // truncated after the head was decided
            return response
        }
        try await withLiveServer(router) { _, port in
            let raw = try await converse(port: port) { connection in
                try connection.send(request("/moving"))
                return try connection.receiveUntilClose()
            }
            let text = String(decoding: raw.prefix(400), as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 200"))
            #expect(text.lowercased().contains("content-length: 100000"))
            #expect(raw.count < 100_000, "the connection closed before the promised length")
        }
    }

    @Test func `a file rewritten in place while it is sent closes the connection before any rewritten byte`() async throws {
        // 16 MiB of "a" to a reader that takes 64 KB and pauses: most of the file is still to
        // be read when 100 bytes near its end become "Z" (same size, a new modification time).
        let fixture = try Fixture()
        let path = fixture.root + "/growing.log"
        try Data(repeating: 0x61, count: 16 << 20).write(to: URL(fileURLWithPath: path))
        let pages = try FileServer(directory: fixture.root, configuration: .init(readChunkBytes: 64 * 1024))
        let router = Router()
        router.get("/log") { request, context in try await pages.response(to: request, context: context, file: "growing.log") }
        try await withLiveServer(router) { _, port in
            let raw = try await onDedicatedThread { () -> [UInt8] in
                let connection = try RawConnection(port: port, timeout: .seconds(20), receiveBufferBytes: 65536)
                defer { connection.close() }
                try connection.send(request("/log"))
                var received = try connection.receive(atLeast: 64 * 1024)
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                try handle.seek(toOffset: 15 << 20)
                try handle.write(contentsOf: Data(repeating: 0x5A, count: 100))
                try handle.close()
                received += try connection.receiveUntilClose()
                return received
            }
            #expect(String(decoding: raw.prefix(200), as: UTF8.self).hasPrefix("HTTP/1.1 200"))
            #expect(raw.count < 16 << 20, "the connection closed before the promised length")
            #expect(!raw.contains(0x5A), "no byte of the rewritten version was sent")
        }
    }

    @Test func `a file replaced by a rename after its head was made is sent whole, as the head describes`() async throws {
        let fixture = try Fixture()
        try fixture.writePattern("deployed.bin", byteCount: 100_000)
        let pages = try FileServer(directory: fixture.root)
        let router = Router()
        router.get("/deployed") { request, context in
            let response = try await pages.response(to: request, context: context, file: "deployed.bin")
            // An atomic deploy: the new version written aside, then renamed over the old one.
            try Data(repeating: 7, count: 50_000).write(to: URL(fileURLWithPath: fixture.root + "/deployed.new"))
            #expect(rename(fixture.root + "/deployed.new", fixture.root + "/deployed.bin") == 0)
            return response
        }
        try await withLiveServer(router) { _, port in
            let old = try await get(port, "/deployed")
            #expect(old.status == .ok)
            #expect(old.headerFields[.contentLength] == "100000")
            #expect(old.body == (0..<100_000).map { UInt8($0 % 251) })
            // The next request gets the new version, whole.
            let new = try await get(port, "/deployed")
            #expect(new.headerFields[.contentLength] == "50000")
            #expect(new.body == [UInt8](repeating: 7, count: 50_000))
        }
    }

}
