#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

extension RouterMethods {
    /// Serves `rill.js`, Rill's browser client (`Clients/js/rill.js`: one stream shared by the
    /// tabs of an origin, a watchdog, token refresh, gap reporting), as a static file
    /// (``FileServer``: `text/javascript; charset=utf-8`, `ETag` and `Last-Modified` with 304,
    /// `Range`, `HEAD`, read off the loop).
    ///
    /// ```swift
    /// try router.browserClient()      // GET /rill.js; a page: import { subscribe } from '/rill.js'
    /// ```
    ///
    /// - Parameter path: where it is served.
    /// - Throws: ``HTTPError`` (500) when the file is not there; see ``browserClientPath``.
    @discardableResult
    public func browserClient(at path: String = "/rill.js") throws -> Self {
        let file = Self.browserClientPath
        var directory = URL(fileURLWithPath: file)
        let name = directory.lastPathComponent
        directory.deleteLastPathComponent()
        guard FileManager.default.isReadableFile(atPath: file), let files = try? FileServer(directory: directory.path) else {
            throw HTTPError(.internalServerError, message: "cannot read rill.js at \(file) (set RILL_JS_PATH)")
        }
        return on(path, method: .get) { request, context in try await files.response(to: request, context: context, file: name) }
    }

    /// Where ``browserClient(at:)`` reads `rill.js`: the environment variable `RILL_JS_PATH` if set
    /// (a binary deployed without the sources), otherwise `Clients/js/rill.js` of the package
    /// this file was compiled from. SwiftPM always builds from sources, so that path exists for
    /// `swift run`, `swift test` and an app that depends on Rill (its checkout holds `Clients/`).
    public static var browserClientPath: String {
        if let configured = getenv("RILL_JS_PATH"), configured.pointee != 0 { return String(cString: configured) }
        // #filePath is <package>/Sources/Rill/Router/<this file>.
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { root.deleteLastPathComponent() }
        return root.appendingPathComponent("Clients/js/rill.js").path
    }
}
