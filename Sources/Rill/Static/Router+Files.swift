import HTTPTypes
public import RillCore

extension Router {
    /// Serves the files under `directory` at `path` and below: `GET` and `HEAD` (other methods
    /// answer 405), with content types, validators and 304, single ranges, index files and
    /// path traversal refused (see ``FileServer``).
    ///
    /// ```swift
    /// try router.files("/static", directory: "Public")   // GET /static/app.js → Public/app.js
    /// ```
    ///
    /// - Parameters:
    ///   - path: the path prefix (literal segments, parameters or `*`, but no `**`): a route
    ///     `path/**` is registered.
    ///   - directory: the directory, absolute or relative to the working directory.
    ///   - configuration: index file, read chunk size, caching, hidden files, content types.
    /// - Throws: `UVError` when `directory` is not an existing directory.
    @discardableResult
    public func files(_ path: String, directory: String, configuration: FileServer.Configuration = .init()) throws(UVError) -> Self {
        registerFiles(pattern: Router.join("", path), relativePath: path, server: try FileServer(directory: directory, configuration: configuration))
        return self
    }
}

extension RouterGroup {
    /// Serves the files under `directory` at `path` (below the group's prefix) and below, behind
    /// the group's middleware; see ``Router/files(_:directory:configuration:)``.
    ///
    /// - Throws: `UVError` when `directory` is not an existing directory.
    @discardableResult
    public func files(_ path: String, directory: String, configuration: FileServer.Configuration = .init()) throws(UVError) -> Self {
        registerFiles(
            pattern: Router.join(prefix, path), relativePath: path, server: try FileServer(directory: directory, configuration: configuration))
        return self
    }
}

extension RouterMethods {
    /// Registers `server` on `relativePath/**`; `pattern` is the full pattern the request path
    /// is matched against, whose segments before `**` are not part of the file's path.
    fileprivate func registerFiles(pattern: String, relativePath: String, server: FileServer) {
        let prefixSegments = Array(PathSegments(pattern[...]))
        precondition(!prefixSegments.contains("**"), "files(\"\(relativePath)\"): the path must not contain '**'")
        let prefixSegmentCount = prefixSegments.count
        on(Router.join(relativePath, "**"), method: .get, maxBodyBytes: nil) { request, context in
            try await server.response(to: request, context: context, prefixSegmentCount: prefixSegmentCount)
        }
    }
}
