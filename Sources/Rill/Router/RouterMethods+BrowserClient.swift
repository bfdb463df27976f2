public import HTTPTypes

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
    /// tabs of an origin, a watchdog, token refresh, gap reporting), as
    /// `text/javascript; charset=utf-8`. The file is read once, here.
    ///
    /// ```swift
    /// try router.browserClient()      // GET /rill.js; a page: import { subscribe } from '/rill.js'
    /// ```
    ///
    /// - Parameter path: where it is served.
    /// - Throws: ``HTTPError`` (500) when the file cannot be read; see ``browserClientPath``.
    @discardableResult
    public func browserClient(at path: String = "/rill.js") throws -> Self {
        let file = Self.browserClientPath
        guard let contents = FileManager.default.contents(atPath: file) else {
            throw HTTPError(.internalServerError, message: "cannot read rill.js at \(file) (set RILL_JS_PATH)")
        }
        let bytes = [UInt8](contents)
        return on(path, method: .get) { _, _ in
            Response(headerFields: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "no-cache"], body: .bytes(bytes))
        }
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
