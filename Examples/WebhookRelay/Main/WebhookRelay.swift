// WebhookRelay — GitHub webhooks in, Server-Sent Events out: a push to the repository becomes a
// "<pusher> pushed to <branch>" notification on every open stream.
//
// What it shows: a route that reads the raw request body and verifies GitHub's
// `X-Hub-Signature-256` (HMAC-SHA256 with swift-crypto, compared in constant time), JSON errors
// with 401/400, dispatch on `X-GitHub-Event` (push → publish, ping → pong, others → 202), and
// `context.publish` / `context.eventStream` on the in-memory broker. The routes live in
// Examples/WebhookRelay/Core (WebhookRelayCore) so that WebhookRelayTests run the same app.
//
//   swift run WebhookRelay --port 8080 --secret s3cret      # or: WEBHOOK_SECRET=s3cret swift run WebhookRelay
//   curl -N localhost:8080/stream                            # terminal 1: listen (channel "sse")
//   body='{"ref":"refs/heads/main","pusher":{"name":"octocat"}}'
//   sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac s3cret | sed 's/^.*= //')
//   curl -i -X POST localhost:8080/webhook/github -H 'X-GitHub-Event: push' \
//        -H "X-Hub-Signature-256: sha256=$sig" -d "$body"   # terminal 1 gets "octocat pushed to main"
//   curl -i -X POST localhost:8080/webhook/github -H 'X-GitHub-Event: push' \
//        -H 'X-Hub-Signature-256: sha256=00' -d "$body"      # 401
//   curl -i -X POST localhost:8080/webhook/github -H 'X-GitHub-Event: ping' \
//        -H "X-Hub-Signature-256: sha256=$(printf '{}' | openssl dgst -sha256 -hmac s3cret | sed 's/^.*= //')" -d '{}'   # 200 pong
//
// Sending the same signed body twice (within an hour) answers 200 {"status":"duplicate"} and
// publishes nothing: GitHub signs only the body, so a captured delivery must not be replayable
// (RecentDeliveries). Change the body (or the pusher's name) to try the push again.
//
// On GitHub: Settings → Webhooks → Payload URL http://HOST:PORT/webhook/github, content type
// application/json, the same secret.
import ArgumentParser
import Rill
import WebhookRelayCore

#if canImport(Glibc)
    import Glibc
#endif

@main
struct WebhookRelay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Relays signed GitHub webhooks to Server-Sent Events subscribers.")

    @Option(help: "The address to bind.") var host = "127.0.0.1"
    @Option(help: "The port to listen on (0 picks a free one).") var port = 8080
    @Option(help: "The webhook's shared secret (default: the WEBHOOK_SECRET environment variable).") var secret: String?

    func run() async throws {
        guard let secret = secret ?? getenv("WEBHOOK_SECRET").map({ String(cString: $0) }), !secret.isEmpty else {
            throw ValidationError("a secret is required: pass --secret or set WEBHOOK_SECRET")
        }
        let app = try Application(router: Router(), configuration: .init(host: host, port: port))
        WebhookRelayRoutes.install(on: app, secret: secret)

        let address = try await app.start()
        print("listening on http://\(address)")
        fflush(nil)  // stdout may be a pipe: make the line visible now
        // A service in a group, beside any other of the program's: SIGTERM or SIGINT shut it down gracefully.
        try await ServiceGroup(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: app.logger).run()
    }
}
