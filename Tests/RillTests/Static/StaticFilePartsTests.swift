import HTTPTypes
import RillCore
import RillHTTP
import Testing

@testable import Rill

/// The pure parts of the file server: ranges, validators, paths, content types, dates.
@Suite struct StaticFilePartsTests {
    // MARK: Range

    @Test func `a single byte range is clamped to the file`() {
        #expect(ByteRange(header: "bytes=0-99", byteCount: 1000) == .partial(0...99))
        #expect(ByteRange(header: "bytes=900-", byteCount: 1000) == .partial(900...999))
        #expect(ByteRange(header: "bytes=-100", byteCount: 1000) == .partial(900...999))
        #expect(ByteRange(header: "bytes=-5000", byteCount: 1000) == .partial(0...999))
        #expect(ByteRange(header: "bytes=990-5000", byteCount: 1000) == .partial(990...999))
        #expect(ByteRange(header: "BYTES = 5-5 ", byteCount: 1000) == .whole, "a space before '=' is not the bytes unit")
        #expect(ByteRange(header: "Bytes= 5-5 ", byteCount: 1000) == .partial(5...5))
    }

    @Test func `a range starting past the end is unsatisfiable`() {
        #expect(ByteRange(header: "bytes=1000-", byteCount: 1000) == .unsatisfiable)
        #expect(ByteRange(header: "bytes=5000-6000", byteCount: 1000) == .unsatisfiable)
        #expect(ByteRange(header: "bytes=-0", byteCount: 1000) == .unsatisfiable)
    }

    @Test func `huge numbers saturate instead of overflowing`() {
        let huge = String(repeating: "9", count: 400)
        #expect(ByteRange(header: "bytes=\(huge)-", byteCount: 1000) == .unsatisfiable)
        #expect(ByteRange(header: "bytes=0-\(huge)", byteCount: 1000) == .partial(0...999))
        #expect(ByteRange(header: "bytes=-\(huge)", byteCount: 1000) == .partial(0...999))
        #expect(ByteRange(header: "bytes=9223372036854775807-9223372036854775807", byteCount: 1000) == .unsatisfiable)
    }

    @Test func `malformed ranges, other units and several ranges get the whole file`() {
        for header in [
            "bytes=5-1", "bytes=a-b", "bytes=-", "bytes=", "bytes=1-2-3", "bytes=+1-2", "bytes=0x10-", "items=0-1", "0-1",
            "bytes=0-1,5-6", "bytes=0-1, -1",
        ] {
            #expect(ByteRange(header: header, byteCount: 1000) == .whole, "\(header)")
        }
        #expect(ByteRange(header: nil, byteCount: 1000) == .whole)
        #expect(ByteRange(header: "bytes=0-0", byteCount: 0) == .whole, "an empty file is sent whole")
        #expect(ByteRange.maxRangeCount == 1)
    }

    // MARK: Validators

    private let status = FileStatus(kind: .regular, byteCount: 4096, modificationSecondsSince1970: 784_111_777, modificationNanoseconds: 5)
    private let date = "Sun, 06 Nov 1994 08:49:37 GMT"

    private func fields(_ pairs: (HTTPField.Name, String)...) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in pairs { fields.append(HTTPField(name: name, value: value)) }
        return fields
    }

    @Test func `the entity tag changes with the size and the modification time`() {
        let validators = FileValidators(status)
        #expect(validators.entityTag == "\"2ebc98a1-5-1000\"")
        #expect(validators.lastModified == date)
        var grown = status
        grown.byteCount += 1
        #expect(FileValidators(grown).entityTag != validators.entityTag)
        var touched = status
        touched.modificationNanoseconds += 1
        #expect(FileValidators(touched).entityTag != validators.entityTag)
    }

    @Test func `a modification time in the future is sent as now, and dates are compared with it`() {
        let now = status.modificationSecondsSince1970 - 3600  // the file claims to change in an hour
        let validators = FileValidators(status, nowSecondsSince1970: now)
        #expect(validators.lastModifiedSecondsSince1970 == now)
        #expect(validators.lastModified == HTTPDate.string(fromSecondsSince1970: Int(now)))
        #expect(validators.entityTag == FileValidators(status).entityTag)  // the tag keeps the file's own time
        #expect(validators.evaluate(fields((.ifModifiedSince, validators.lastModified))) == .notModified)
    }

    @Test func `If-None-Match answers 304 for a matching tag, weakly compared`() {
        let validators = FileValidators(status)
        let tag = validators.entityTag
        #expect(validators.evaluate(fields((.ifNoneMatch, tag))) == .notModified)
        #expect(validators.evaluate(fields((.ifNoneMatch, "W/\(tag)"))) == .notModified)
        #expect(validators.evaluate(fields((.ifNoneMatch, "\"x\", \"a,b\" ,\(tag)"))) == .notModified)
        #expect(validators.evaluate(fields((.ifNoneMatch, "*"))) == .notModified)
        #expect(validators.evaluate(fields((.ifNoneMatch, "\"other\""))) == .proceed)
        #expect(validators.evaluate(fields((.ifNoneMatch, "garbage \(tag)"))) == .proceed, "a malformed list matches nothing")
        #expect(validators.evaluate(fields((.ifNoneMatch, "\"unterminated"))) == .proceed)
        // If-None-Match wins over If-Modified-Since.
        #expect(validators.evaluate(fields((.ifNoneMatch, "\"other\""), (.ifModifiedSince, date))) == .proceed)
    }

    @Test func `If-Modified-Since answers 304 unless the file is newer, and ignores bad dates`() {
        let validators = FileValidators(status)
        #expect(validators.evaluate(fields((.ifModifiedSince, date))) == .notModified)
        #expect(validators.evaluate(fields((.ifModifiedSince, "Sun, 06 Nov 1994 08:49:38 GMT"))) == .notModified)
        #expect(validators.evaluate(fields((.ifModifiedSince, "Sun, 06 Nov 1994 08:49:36 GMT"))) == .proceed)
        #expect(validators.evaluate(fields((.ifModifiedSince, "yesterday"))) == .proceed)
    }

    @Test func `If-Match and If-Unmodified-Since fail with 412`() {
        let validators = FileValidators(status)
        #expect(validators.evaluate(fields((.ifMatch, "\"other\""))) == .preconditionFailed)
        #expect(validators.evaluate(fields((.ifMatch, "W/\(validators.entityTag)"))) == .preconditionFailed, "If-Match compares strongly")
        #expect(validators.evaluate(fields((.ifMatch, validators.entityTag))) == .proceed)
        #expect(validators.evaluate(fields((.ifUnmodifiedSince, "Sun, 06 Nov 1994 08:49:36 GMT"))) == .preconditionFailed)
        #expect(validators.evaluate(fields((.ifUnmodifiedSince, date))) == .proceed)
    }

    @Test func `If-Range honours the range only for the current version`() {
        let validators = FileValidators(status)
        #expect(validators.allowsRange(fields()))
        #expect(validators.allowsRange(fields((.ifRange, validators.entityTag))))
        #expect(!validators.allowsRange(fields((.ifRange, "W/\(validators.entityTag)"))))
        #expect(!validators.allowsRange(fields((.ifRange, "\"old\""))))
        #expect(validators.allowsRange(fields((.ifRange, date))))
        #expect(!validators.allowsRange(fields((.ifRange, "Sun, 06 Nov 1994 08:49:38 GMT"))))
        #expect(!validators.allowsRange(fields((.ifRange, "nonsense"))))
    }

    // MARK: HTTP dates

    @Test func `the three HTTP date forms parse to the same instant`() {
        #expect(HTTPDate.secondsSince1970(parsing: "Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(HTTPDate.secondsSince1970(parsing: "Sunday, 06-Nov-94 08:49:37 GMT") == 784_111_777)
        #expect(HTTPDate.secondsSince1970(parsing: "Sun Nov  6 08:49:37 1994") == 784_111_777)
        #expect(HTTPDate.secondsSince1970(parsing: "Thu, 01 Jan 1970 00:00:00 GMT") == 0)
        #expect(HTTPDate.secondsSince1970(parsing: "Tue, 29 Feb 2028 23:59:59 GMT") == 1_835_481_599)
        #expect(HTTPDate.secondsSince1970(parsing: "Tue, 29 Feb 2000 00:00:00 GMT") == 951_782_400)  // 2000 is a leap year
        #expect(HTTPDate.secondsSince1970(parsing: "Sat, 30 Apr 2100 00:00:00 GMT") != nil)
        for seconds in [0, 951_782_400, 1_700_000_000, 4_102_444_800] {
            #expect(HTTPDate.secondsSince1970(parsing: HTTPDate.string(fromSecondsSince1970: seconds)) == seconds)
        }
    }

    @Test func `malformed dates are refused`() {
        for text in [
            "", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:49 GMT", "Sun, +6 Nov 1994 08:49:37 GMT", "1994-11-06T08:49:37Z",
            "Sun, 32 Nov 1994 08:49:37 GMT", "Fri, 30 Feb 2100 00:00:00 GMT", "Fri, 29 Feb 2100 00:00:00 GMT",
            "Sat, 31 Apr 2100 00:00:00 GMT", "Sun, 29 Feb 2099 00:00:00 GMT", "Sunday, 31-Jun-94 08:49:37 GMT", "Sun Sep 31 08:49:37 1994",
        ] {
            #expect(HTTPDate.secondsSince1970(parsing: text) == nil, "\(text)")
        }
    }

    // MARK: Paths

    @Test func `request paths decode to components below the prefix`() {
        #expect(StaticFilePath.components(of: "/static/css/app.css", droppingPrefixSegments: 1, servesHiddenFiles: false) == ["css", "app.css"])
        #expect(StaticFilePath.components(of: "/static//a%20b.txt", droppingPrefixSegments: 1, servesHiddenFiles: false) == ["a b.txt"])
        #expect(StaticFilePath.components(of: "/static", droppingPrefixSegments: 1, servesHiddenFiles: false) == [])
        #expect(StaticFilePath.components(of: "/caf%C3%A9.txt", droppingPrefixSegments: 0, servesHiddenFiles: false) == ["café.txt"])
    }

    @Test func `traversal, encoded separators, NUL and hidden names are refused`() {
        for path in [
            "/static/../etc/passwd", "/static/%2e%2e/etc/passwd", "/static/%2E%2e/x", "/static/./a", "/static/%2e/a", "/static/a%2fb",
            "/static/a%2F..%2Fb", "/static/a%5cb", "/static/..%5c..%5cwin.ini", "/static/a%00.txt", "/static/%zz", "/static/%c3%28",
            "/static/.env", "/static/.git/config", "/static/%2egit/config",
        ] {
            #expect(StaticFilePath.components(of: path[...], droppingPrefixSegments: 1, servesHiddenFiles: false) == nil, "\(path)")
        }
        #expect(StaticFilePath.components(of: "/static/.well-known/a", droppingPrefixSegments: 1, servesHiddenFiles: true) == [".well-known", "a"])
        #expect(StaticFilePath.components(of: "/static/../a", droppingPrefixSegments: 1, servesHiddenFiles: true) == nil)
        #expect(StaticFilePath.components(ofRelativePath: "pages/index.html", servesHiddenFiles: false) == ["pages", "index.html"])
        #expect(StaticFilePath.components(ofRelativePath: "../secret", servesHiddenFiles: false) == nil)
        #expect(StaticFilePath.components(ofRelativePath: "a\0b", servesHiddenFiles: false) == nil)
    }

    @Test func `a resolved path must stay under the resolved root`() {
        #expect(StaticFilePath.isContained("/srv/www/a.txt", in: "/srv/www", servesHiddenFiles: false))
        #expect(StaticFilePath.isContained("/srv/www", in: "/srv/www", servesHiddenFiles: false))
        #expect(!StaticFilePath.isContained("/srv/www-private/a.txt", in: "/srv/www", servesHiddenFiles: false))
        #expect(!StaticFilePath.isContained("/etc/passwd", in: "/srv/www", servesHiddenFiles: false))
        #expect(!StaticFilePath.isContained("/srv/www/.secret", in: "/srv/www", servesHiddenFiles: false))
        #expect(StaticFilePath.isContained("/srv/www/.secret", in: "/srv/www", servesHiddenFiles: true))
        #expect(StaticFilePath.isContained("/a", in: "/", servesHiddenFiles: false))
    }

    @Test func `a redirect location is re-encoded and cannot name another host`() {
        #expect(StaticFilePath.encodedPath(["static", "docs"]) == "/static/docs")
        #expect(StaticFilePath.encodedPath(["a b", "é"]) == "/a%20b/%C3%A9")
        #expect(StaticFilePath.encodedPath(["/evil.com"]) == "/%2Fevil.com")
        #expect(StaticFilePath.encodedPath(["\\evil.com"]) == "/%5Cevil.com")
    }

    // MARK: Content types

    @Test func `content types come from the extension, overrides first`() {
        #expect(MediaTypes.contentType(forFileName: "index.html", overrides: [:]) == "text/html; charset=utf-8")
        #expect(MediaTypes.contentType(forFileName: "rill.JS", overrides: [:]) == "text/javascript; charset=utf-8")
        #expect(MediaTypes.contentType(forFileName: "a.tar.gz", overrides: [:]) == "application/gzip")
        #expect(MediaTypes.contentType(forFileName: "logo.svg", overrides: [:]) == "image/svg+xml")
        #expect(MediaTypes.contentType(forFileName: "README", overrides: [:]) == "application/octet-stream")
        #expect(MediaTypes.contentType(forFileName: ".bashrc", overrides: [:]) == "application/octet-stream")
        #expect(MediaTypes.contentType(forFileName: "model.glb", overrides: ["glb": "model/gltf-binary"]) == "model/gltf-binary")
        let configuration = FileServer.Configuration(contentTypes: ["HTML": "text/html"])
        #expect(MediaTypes.contentType(forFileName: "a.html", overrides: configuration.contentTypeOverrides) == "text/html")
    }

    @Test func `the read chunk size has a documented default and bounds`() {
        let configuration = FileServer.Configuration()
        #expect(configuration.readChunkBytes == 64 * 1024)
        #expect(FileServer.Configuration.defaultReadChunkBytes == 64 * 1024)
        #expect(FileServer.Configuration.maxReadChunkBytes == 4 * 1024 * 1024)
        #expect(configuration.indexFileName == "index.html")
        #expect(configuration.cacheControl == "no-cache")
        #expect(!configuration.servesHiddenFiles)
    }
}
