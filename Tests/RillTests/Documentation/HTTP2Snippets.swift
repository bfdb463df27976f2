import Rill

/// The Swift code of `Rill.docc/HTTP2.md`, compiled here so it cannot rot (never called).
/// `DocumentationSnippetTests` checks that the article shows exactly this code.
enum HTTP2Snippets {
    // HTTP2.md: HTTPS — begin
    static func https(router: Router) async throws {
        var configuration = ServerConfiguration(host: "0.0.0.0", port: 8443)
        configuration.tls = TLSConfiguration(certificateChainPath: "cert.pem", privateKeyPath: "key.pem")
        let app = try Application(router: router, configuration: configuration)
        try await app.run()  // SIGHUP re-reads the certificate and key; open connections stay
    }
    // HTTP2.md: HTTPS — end
}
