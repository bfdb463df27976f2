// Notifications — the classic flask-sse demo, on Rill: a page with a text box; Send POSTs a
// message; every open page receives it at once over Server-Sent Events.
//
// What it shows: a JSON POST route that publishes to a channel (`context.publish`), the SSE
// endpoint with `?channel=` and `Last-Event-ID` replay (`context.eventStream`), its page served
// from a file (`Public/index.html`, with `router.files("/static", …)` for assets beside it) on
// the browser client rill.js (`router.browserClient()`: the tabs share one stream),
// 400 errors with a JSON body, and the in-memory broker — or Redis with `--redis`, so that
// several processes share notifications and history.
//
//   make run                                   # or: swift run -c release Notifications --port 8080
//   curl -N localhost:8080/stream              # terminal 1: listen (default channel "sse")
//   curl -X POST localhost:8080/send_notification \
//        -H 'content-type: application/json' -d '{"message":"Hello!"}'      # terminal 2
//   curl -N 'localhost:8080/stream?channel=sse' -H 'Last-Event-ID: <id>'  # replay after an id you received
//                                                                        # (an unknown id such as 1: Rill-Replay: gap)
//   curl -i -X POST localhost:8080/send_notification -H 'content-type: application/json' -d '{}'   # 400
//   open http://localhost:8080/ in two browser tabs and send from one: the page uses rill.js
//   (GET /rill.js), so the tabs share one stream ("shared with 2 tabs")
//   curl -s localhost:8080/presence            # {"channel":"sse","count":1,…}: one stream
//   curl -I localhost:8080/     # the page: ETag, Last-Modified; -H 'If-None-Match: …' gives 304
//   swift run -c release Notifications --public-dir /srv/notifications   # the page from elsewhere
//   swift run -c release Notifications --port 8081 --redis redis://127.0.0.1:6379/0   # and a second
//   process on 8082 with the same --redis: a POST to either reaches the streams of both
//   swift run -c release Notifications --loops 2    # two event loop threads (default: one per CPU
//   the process may run on); a page's stream stays on one loop, a POST on any loop reaches all
import ArgumentParser
import Rill
import RillRedis

#if canImport(Glibc)
    import Glibc
#endif

/// The body of `POST /send_notification`.
struct Notification: Decodable, Sendable {
    var message: String?
}

/// What `GET /config.json` answers: what the page cannot know by itself.
struct PageConfiguration: Encodable, Sendable {
    var channel: String
}

/// What `POST /send_notification` answers.
struct Outcome: Encodable, Sendable {
    var status: String
    var message: String
    var id: String?
}

@main
struct Notifications: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A notification hub with a web page, on Server-Sent Events.")

    @Option(help: "The address to bind.") var host = "127.0.0.1"
    @Option(help: "The port to listen on (0 picks a free one).") var port = 8080
    @Option(help: "The channel the page publishes to and listens on.") var channel = Application.defaultChannel
    @Option(help: "Share events through Redis (redis://host:port/db) instead of the in-memory broker.") var redis: String?
    @Option(help: "Event loops (threads) serving connections (default: one per CPU the process may run on).") var loops: Int?
    @Option(help: "Serve HTTPS with this PEM certificate chain (with --tls-key; SIGHUP reloads both).") var tlsCert: String?
    @Option(help: "The PEM private key of --tls-cert.") var tlsKey: String?
    @Option(help: "The folder of the page and its assets (default: Public/ beside this source file).") var publicDir: String?

    func validate() throws {
        if let loops { guard loops >= 1 else { throw ValidationError("--loops must be ≥ 1 (got \(loops))") } }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
    }

    func run() async throws {
        let router = Router()
        let broker = try redis.map { try BrokerFactory.redis(url: $0) } ?? .inMemory()
        let channel = self.channel

        // The page is a file, found from this source file's location, so that `make run`, `swift
        // run` and the tests find it from any working directory; a deployment without the
        // sources passes --public-dir.
        let pages = try FileServer(directory: publicDir ?? Self.publicDirectory())
        router.get("/") { request, context in
            try await pages.response(to: request, context: context, file: "index.html")
        }
        try router.files("/static", directory: pages.directory)
        router.get("/config.json") { _, _ in PageConfiguration(channel: channel) }
        router.get("/stream") { request, context in
            try await context.eventStream(for: request)
        }
        // The page's client: one stream shared by all tabs of the origin (Clients/js/rill.js).
        try router.browserClient()
        router.post("/send_notification", maxBodyBytes: 16 * 1024) { request, context in
            let text: String
            do {
                text = try request.decode(Notification.self).message?.trimmed ?? ""
            } catch let error as HTTPError {
                return JSONResponse(Outcome(status: "error", message: error.message ?? "invalid request"), status: error.status)
            }
            guard !text.isEmpty else {
                return JSONResponse(Outcome(status: "error", message: "message is required"), status: .badRequest)
            }
            let receipt = try await context.publish(["message": text], event: "notify", channel: channel)
            return JSONResponse(Outcome(status: "success", message: "sent to \(receipt.subscriberCount) subscriber(s)", id: receipt.id))
        }

        var configuration = ServerConfiguration(host: host, port: port)
        if let loops { configuration.eventLoopCount = loops }
        if let tlsCert, let tlsKey { configuration.tls = TLSConfiguration(certificateChainPath: tlsCert, privateKeyPath: tlsKey) }
        let app = try Application(router: router, configuration: configuration, broker: broker)
        // How many streams the channel has (all tabs of a browser share one).
        router.get("/presence") { _, _ in try await app.presence(of: channel) }
        let address = try await app.start()
        print("listening on \(tlsCert == nil ? "http" : "https")://\(address)")
        fflush(nil)  // stdout may be a pipe: make the line visible now
        // A service in a group, beside any other of the program's: SIGTERM or SIGINT shut it down gracefully.
        try await ServiceGroup(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: app.logger).run()
    }
}

extension Notifications {
    /// `Public/` beside this source file.
    static func publicDirectory(sourceFile: String = #filePath) -> String {
        sourceFile.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/") + "/Public"
    }
}

extension String {
    fileprivate var trimmed: String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
