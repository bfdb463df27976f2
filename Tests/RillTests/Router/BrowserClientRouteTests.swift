import Foundation
import Rill
import RillTesting
import Testing

/// `router.browserClient()` serves Clients/js/rill.js, found from this checkout's sources.
struct BrowserClientRouteTests {
    @Test func `GET rill.js answers the client as JavaScript`() async throws {
        let router = Router()
        try router.browserClient()
        let app = try Application(router: router, configuration: .init(host: "127.0.0.1", port: 0))
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let file = try Data(contentsOf: root.appendingPathComponent("Clients/js/rill.js"))
        #expect(Router.browserClientPath == root.appendingPathComponent("Clients/js/rill.js").path)
        try await app.test(.router) { client in
            let response = try await client.get("/rill.js")
            #expect(response.status == .ok)
            #expect(response.headerFields[.contentType] == "text/javascript; charset=utf-8")
            #expect(response.body == [UInt8](file))
            #expect(response.bodyText.contains("export function subscribe("))
        }
    }
}
