import Foundation
import Rill
import Testing

/// The README's Swift code, compiled here so it cannot rot (it is never called: it would listen
/// on port 8080 until a signal). `ReadmeTests` checks that the README
/// still shows exactly this code.
enum ReadmeSnippets {
    // The README's layout (aligned comments) is kept as written:
    // swift-format-ignore
    // README: quick start — begin
    static func quickStart() async throws {
        let router = Router()
        router.get("/hello/:name") { request, context in "Hello, \(try context.parameter("name"))!" }
        router.get("/ticks") { request, context in                 // SSE from any AsyncSequence of events
            EventStream(AsyncStream { () async -> ServerSentEvent? in
                try? await context.eventLoop.sleep(for: .seconds(1))   // a libuv timer, no thread hop
                return ServerSentEvent(data: "tick")
            })
        }
        router.get("/stream") { request, context in                // ?channel=…, Last-Event-ID replay
            try await context.eventStream(for: request)
        }
        router.post("/send") { request, context in                 // flask-sse's publish, from any route
            try await context.publish(["message": request.bodyText], event: "notify")
        }
        let app = try Application(router: router, configuration: .init(host: "127.0.0.1", port: 8080))
        try await app.run()                                        // SIGINT/SIGTERM → graceful shutdown
    }
    // README: quick start — end
}

@Suite struct ReadmeTests {
    /// The lines between the markers above, de-indented, must equal the README's first Swift block.
    @Test func `the README quick start is the code that compiles here`() throws {
        let here = URL(fileURLWithPath: #filePath)
        let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let source = try String(contentsOf: here, encoding: .utf8)
        let block = try #require(readme.components(separatedBy: "```swift\n").dropFirst().first?.components(separatedBy: "```").first)
        let lines = source.components(separatedBy: "\n")
        let begin = try #require(lines.firstIndex { $0.contains("quick start — begin") }) + 2
        let end = try #require(lines.firstIndex { $0.contains("quick start — end") }) - 1
        let compiled = lines[begin..<end].map { $0.hasPrefix("        ") ? String($0.dropFirst(8)) : $0 }.joined(separator: "\n")
        // The snippet's `import Rill` is this file's import.
        #expect("import Rill\n\n" + compiled + "\n" == block)
    }
}
