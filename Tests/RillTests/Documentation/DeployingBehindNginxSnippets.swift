import Rill

/// The Swift code of `Rill.docc/DeployingBehindNginx.md`, compiled here so it cannot rot (never
/// called). `DocumentationSnippetTests` checks that the article shows exactly this code.
enum DeployingBehindNginxSnippets {
    // DeployingBehindNginx.md: connection limits — begin
    static func connectionLimits(router: Router) async throws {
        let configuration = ServerConfiguration(
            host: "127.0.0.1",  // only nginx reaches Rill
            port: 8080,
            maxConnections: 60_000,  // needs an open-file limit of 60,080 + 8 per loop
            shutdownGracePeriod: .seconds(20))
        let app = try Application(router: router, configuration: configuration)
        try await app.run()
    }
    // DeployingBehindNginx.md: connection limits — end
}
