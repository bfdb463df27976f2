import HTTPTypes
public import RillCore
import RillHTTP

#if canImport(Glibc)
    import Glibc
#endif

/// Serves the files under one directory — what Flask's `static`, Starlette's `StaticFiles` and
/// Hummingbird's `FileMiddleware` do. Usually registered with
/// ``Router/files(_:directory:configuration:)``; a handler can also answer with one file
/// through ``response(to:context:file:)``.
///
/// What it answers:
/// - `Content-Type` by extension (``Configuration/contentTypes``), `Content-Length`, a strong
///   `ETag`, `Last-Modified`, `Accept-Ranges: bytes`, ``Configuration/cacheControl`` and
///   `X-Content-Type-Options: nosniff`; `HEAD` gets the same head without the body.
/// - 304 for a matching `If-None-Match` (or, without it, an `If-Modified-Since` not older than
///   the file); 412 for a failed `If-Match` or `If-Unmodified-Since`.
/// - A single byte range (`Range: bytes=0-99`, `bytes=100-`, `bytes=-100`, with `If-Range`) as
///   206 with `Content-Range`; 416 when it lies past the end; several ranges, or a malformed
///   header, get the whole file (200), as RFC 9110 allows.
/// - A directory: a redirect to its path with a trailing `/` (307), then its index file.
/// - 404 for anything that does not name a readable regular file under the directory: `..`,
///   `.`, an encoded `/` or `\`, `%00`, hidden names (unless served), symbolic links whose
///   target lies outside the directory, directories without an index, sockets, FIFOs, devices.
///
/// Nothing blocks the loop: the path is resolved (`realpath`), examined (`stat`), opened and
/// read on libuv's thread pool. A file is never loaded whole: it is read
/// ``Configuration/readChunkBytes`` at a time, each read once the client has taken the previous
/// ones (the response body writer's backpressure), so a download holds about the server's write
/// high-water mark plus one chunk, whatever the file's size. A file replaced or truncated while
/// it is sent ends the response by closing the connection, since its length was already
/// promised.
public struct FileServer: Sendable {
    /// The directory, as an absolute path (relative to the working directory at creation when
    /// given relative). Symbolic links in it are resolved anew for each request, so a deployment
    /// that switches a `current` link to a new release is served at once.
    public let directory: String
    /// How the server answers.
    public let configuration: Configuration
    private let contentTypeOverrides: [String: String]

    /// Creates a file server for `directory`.
    ///
    /// - Parameters:
    ///   - directory: the directory whose files are served, absolute or relative to the working
    ///     directory.
    ///   - configuration: index file, read chunk size, caching, hidden files, content types.
    /// - Throws: `UVError` when `directory` does not exist or is not a directory (`ENOENT`,
    ///   `ENOTDIR`, `EACCES`): checked once, here, so that a misconfigured deployment fails at
    ///   start rather than with a 404 per request.
    public init(directory: String, configuration: Configuration = Configuration()) throws(UVError) {
        var absolute = directory
        if !directory.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            guard getcwd(&buffer, buffer.count) != nil else { throw UVError(-errno, "static files directory \(directory)") }
            absolute = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/" + directory
        }
        var status = stat()
        guard stat(absolute, &status) == 0 else { throw UVError(-errno, "static files directory \(absolute)") }
        guard status.st_mode & S_IFMT == S_IFDIR else { throw UVError(-ENOTDIR, "static files directory \(absolute)") }
        self.directory = absolute
        self.configuration = configuration
        contentTypeOverrides = configuration.contentTypeOverrides
    }

    /// The response for the file at `file` (a `/`-separated path relative to ``directory``), with
    /// everything a file route does — validators, 304, ranges, `HEAD` — but no redirect: a
    /// directory is answered with its index file.
    ///
    /// ```swift
    /// let pages = try FileServer(directory: "Public")
    /// router.get("/") { request, context in try await pages.response(to: request, context: context, file: "index.html") }
    /// ```
    ///
    /// - Throws: ``HTTPError`` (404, 412, 416), or `UVError` for a file-system failure other
    ///   than a missing or unreadable file (a 500).
    public func response(to request: Request, context: RequestContext, file: String) async throws -> Response {
        guard let components = StaticFilePath.components(ofRelativePath: file, servesHiddenFiles: configuration.servesHiddenFiles) else {
            throw Self.notFound
        }
        return try await response(to: request, context: context, components: components, directoryRedirect: nil, namesDirectory: false)
    }

    /// The response for a request to a file route whose pattern has `prefixSegmentCount`
    /// segments before its `**`.
    func response(to request: Request, context: RequestContext, prefixSegmentCount: Int) async throws -> Response {
        guard
            let components = StaticFilePath.components(
                of: request.path, droppingPrefixSegments: prefixSegmentCount, servesHiddenFiles: configuration.servesHiddenFiles)
        else { throw Self.notFound }
        // A directory asked for without its trailing slash is redirected to it; a file asked for
        // with one is not found (as nginx answers: `/a.txt/` names a directory).
        let namesDirectory = request.path.hasSuffix("/")
        let redirect = namesDirectory ? nil : Self.directoryLocation(of: request)
        return try await response(
            to: request, context: context, components: components, directoryRedirect: redirect, namesDirectory: namesDirectory)
    }

    private func response(
        to request: Request, context: RequestContext, components: [String], directoryRedirect: String?, namesDirectory: Bool
    ) async throws -> Response {
        let loop = context.eventLoop
        guard let root = try await canonicalPath(of: directory, on: loop) else { throw Self.notFound }
        let requested = components.isEmpty ? root : root + "/" + components.joined(separator: "/")
        guard let found = try await locate(requested, under: root, on: loop) else { throw Self.notFound }
        guard found.status.kind == .directory else {
            guard found.status.kind == .regular, !namesDirectory else { throw Self.notFound }
            return try await fileResponse(path: found.path, status: found.status, request: request, loop: loop)
        }
        guard let indexFileName = configuration.indexFileName else { throw Self.notFound }
        if let directoryRedirect {
            var fields = HTTPFields()
            fields[.location] = directoryRedirect
            return Response(status: .temporaryRedirect, headerFields: fields)
        }
        guard let index = try await locate(found.path + "/" + indexFileName, under: root, on: loop), index.status.kind == .regular else {
            throw Self.notFound
        }
        return try await fileResponse(path: index.path, status: index.status, request: request, loop: loop)
    }

    /// The canonical form of `path`, or nil when it leads to no file this process may read.
    private func canonicalPath(of path: String, on loop: EventLoop) async throws(UVError) -> String? {
        do {
            return try await loop.realPath(of: path)
        } catch {
            if error.isFileUnreachable { return nil }
            throw error
        }
    }

    /// The canonical path of `path` and its status, or nil when it does not exist, cannot be
    /// read, or resolves outside `root` (or to a hidden name, unless those are served).
    private func locate(_ path: String, under root: String, on loop: EventLoop) async throws(UVError) -> (path: String, status: FileStatus)? {
        guard let resolved = try await canonicalPath(of: path, on: loop),
            StaticFilePath.isContained(resolved, in: root, servesHiddenFiles: configuration.servesHiddenFiles)
        else { return nil }
        do {
            return (resolved, try await loop.status(ofFileAt: resolved))
        } catch {
            if error.isFileUnreachable { return nil }
            throw error
        }
    }

    /// The response for the regular file at `path`, whose status by path is `pathStatus`. A
    /// response that will carry the file's bytes opens it first and describes the file it
    /// opened (`fstat`), so that a file replaced by a rename between the `stat` and the body
    /// (an atomic deploy) is sent whole, old or new, never a head of one and the bytes of the
    /// other. A response without the file's bytes — `HEAD`, or a 304 or 412 the path's status
    /// already decides — describes that status without opening.
    private func fileResponse(path: String, status pathStatus: FileStatus, request: Request, loop: EventLoop) async throws -> Response {
        var status = pathStatus
        var file: OpenFile?
        if request.method != .head, FileValidators(pathStatus).evaluate(request.headerFields) == .proceed {
            do {
                // The canonical path has no link left; one swapped in since is refused (ELOOP).
                let opened = try await loop.openFile(atPath: path, followingSymlinks: false)
                file = opened
                status = try await opened.status()
            } catch {
                await file?.close()
                if error.isFileUnreachable { throw Self.notFound }
                throw error
            }
            guard status.kind == .regular else {
                await file?.close()
                throw Self.notFound
            }
        }
        do {
            let (response, sendsFile) = try fileResponse(path: path, status: status, file: file, request: request, loop: loop)
            if !sendsFile { await file?.close() }
            return response
        } catch {
            await file?.close()
            throw error
        }
    }

    /// The response for `status`, and whether its body sends from `file` (nil for `HEAD`).
    /// Closes nothing: the body closes `file` when it runs, the caller otherwise.
    private func fileResponse(path: String, status: FileStatus, file: OpenFile?, request: Request, loop: EventLoop) throws -> (
        Response, sendsFile: Bool
    ) {
        let validators = FileValidators(status)
        var fields = HTTPFields()
        fields[.eTag] = validators.entityTag
        fields[.lastModified] = validators.lastModified
        if let cacheControl = configuration.cacheControl { fields[.cacheControl] = cacheControl }
        switch validators.evaluate(request.headerFields) {
        case .proceed: break
        case .notModified: return (Response(status: .notModified, headerFields: fields), false)
        case .preconditionFailed: throw HTTPError(.preconditionFailed, message: "the file does not meet the request's preconditions")
        }
        let fileName = path.split(separator: "/").last ?? ""
        fields[.contentType] = MediaTypes.contentType(forFileName: fileName, overrides: contentTypeOverrides)
        fields[.acceptRanges] = "bytes"
        fields[.xContentTypeOptions] = "nosniff"
        let size = status.byteCount
        let range = validators.allowsRange(request.headerFields) ? ByteRange(header: request.headerFields[.range], byteCount: size) : .whole
        let bytes: ClosedRange<Int64>
        switch range {
        case .whole:
            guard size > 0 else { return (Response(status: .ok, headerFields: fields, body: .empty), false) }
            bytes = 0...(size - 1)
        case .partial(let partial):
            bytes = partial
            fields[.contentRange] = "bytes \(partial.lowerBound)-\(partial.upperBound)/\(size)"
        case .unsatisfiable:
            var rangeFields = HTTPFields()
            rangeFields[.contentRange] = "bytes */\(size)"
            throw HTTPError(.rangeNotSatisfiable, message: "the range lies outside the file's \(size) bytes", headerFields: rangeFields)
        }
        let body = Self.body(of: file, path: path, version: status, bytes: bytes, readChunkBytes: configuration.readChunkBytes, loop: loop)
        return (Response(status: range == .whole ? .ok : .partialContent, headerFields: fields, body: body), true)
    }

    /// A body that sends `bytes` of `file` (opened before the head was made; nil for `HEAD`,
    /// whose body is never run: then the file is opened here), one chunk at a time under the
    /// writer's backpressure, checking before the first chunk and after reading each one that
    /// the file is still the version the head describes: one rewritten in place (or truncated)
    /// meanwhile is not, and the connection is closed rather than a mix of two versions sent
    /// under the first one's strong ETag. A response dropped before its body releases the file
    /// with its last reference.
    static func body(
        of openedFile: OpenFile?, path: String, version: FileStatus, bytes: ClosedRange<Int64>, readChunkBytes: Int, loop: EventLoop
    ) -> ResponseBody {
        ResponseBody(byteCount: bytes.count) { writer in
            let file: OpenFile
            if let openedFile { file = openedFile } else { file = try await loop.openFile(atPath: path, followingSymlinks: false) }
            do {
                guard try await file.status().isSameVersion(as: version) else { throw FileChangedError(path: path) }
                var offset = bytes.lowerBound
                let end = bytes.upperBound + 1
                // Each pass sends at least one byte or throws: at most `bytes.count` passes.
                while offset < end {
                    try Task.checkCancellation()
                    let chunk = try await file.read(byteCount: Int(min(Int64(readChunkBytes), end - offset)), at: offset)
                    // Checked after it was read: a write that could have reached these bytes
                    // happened before the check, which sees it (the modification time moved),
                    // so no byte of a newer version is sent.
                    guard !chunk.isEmpty, try await file.status().isSameVersion(as: version) else { throw FileChangedError(path: path) }
                    try await writer.write(chunk)
                    offset += Int64(chunk.count)
                }
            } catch {
                await file.close()
                throw error
            }
            await file.close()
        }
    }

    /// The path of `request` with a trailing `/` (and its query), re-encoded from its decoded
    /// segments so that it cannot name another host (`//host`, `/\host`).
    private static func directoryLocation(of request: Request) -> String? {
        var decoded: [String] = []
        for segment in PathSegments(request.path) {
            guard let component = PercentDecoding.decodePathSegment(segment) else { return nil }
            decoded.append(component)
        }
        let query = request.head.query.map { "?" + $0 } ?? ""
        return StaticFilePath.encodedPath(decoded) + "/" + query
    }

    private static let notFound = HTTPError(.notFound, message: "no such file")
}

/// The file changed between the response's head and its body (replaced, truncated, rewritten):
/// the body cannot keep the head's promise, so the connection is closed.
struct FileChangedError: Error, CustomStringConvertible {
    let path: String
    var description: String { "\(path) changed while it was being sent" }
}

extension UVError {
    /// Whether the error means the path leads to no file this process may read (`ENOENT`,
    /// `ENOTDIR`, `ELOOP`, `ENAMETOOLONG`, `EACCES`, `EPERM`): a 404, not a server failure.
    var isFileUnreachable: Bool {
        -code == ENOENT || -code == ENOTDIR || -code == ELOOP || -code == ENAMETOOLONG || -code == EACCES || -code == EPERM
    }
}
