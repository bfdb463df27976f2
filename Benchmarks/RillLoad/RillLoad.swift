// rill-load — a load harness for Server-Sent Events servers (Rill's or anyone's), driving every
// client connection from ONE RillCore event loop (libuv), so the harness itself stays cheap.
//
//   swift build -c release --product rill-load
//   .build/release/rill-load idle -c 19000 -d 30 --expect-heartbeat 10 --server-pid $PID \
//       http://127.0.0.1:18090/stream
//
// Modes (subcommands) share ``ConnectionOptions``: the URL, the connection count, the ramp rate,
// retries and timeouts, and `--server-pid` for sampling the server's RSS and CPU time.
// - `idle`: open N streams, hold them D seconds, report how many stayed alive, server RSS per
//   stream and server CPU while idle.
// - `fanout`: N streams plus a publisher POSTing M numbered, timestamped events; delivery
//   latency (HdrHistogram), gaps and duplicates per stream, server CPU per delivery.
// - `churn`: C connections in flight, each connect → GET → first body byte → close, replaced at
//   once, for D seconds; connections per second, connect-to-first-byte latency, failures.
//
// `--h2` (idle and fanout): the streams are HTTP/2 streams, `--streams-per-connection` (100) on
// each connection (TLS with ALPN h2, or cleartext with prior knowledge), through RillHTTP2's
// client session; the RESULT line says `protocol=h2 streams_per_connection=M tcp_connections=T`.
//
// Progress goes to stderr once a second; stdout ends with one `RESULT mode=… key=value…` line.
// Every run is bounded: the ramp by `--ramp-timeout`, the hold by `-d`, the teardown by 10 s.
import ArgumentParser
import RillCore

@main
struct RillLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rill-load",
        abstract: "Load harness for Server-Sent Events servers, on one RillCore event loop.",
        discussion: """
            Every client is an HTTP/1.1 GET with 'Accept: text/event-stream' on its own \
            connection, or with --h2 (idle and fanout) one HTTP/2 stream of a connection shared \
            by --streams-per-connection streams; all driven by a single libuv loop thread. \
            Loopback targets only.
            """,
        subcommands: [IdleCommand.self, FanoutCommand.self, ChurnCommand.self])
}

/// Options every mode shares: where to connect, how many clients, how fast, how persistent.
struct ConnectionOptions: ParsableArguments {
    @Option(name: [.customShort("c"), .long], help: "Client connections to open.")
    var connections: Int

    @Option(help: "New connections started per second.")
    var ramp: Int = 2_000

    @Option(help: "At most this many connections waiting for connect or the response head at once.")
    var maxPending: Int = 512

    @Option(help: "Retries per connection after a connect error, a reset or a 503 before the head.")
    var retries: Int = 3

    @Option(help: "Seconds one connect may take.")
    var connectTimeout: Double = 5

    @Option(help: "Seconds from connected to the complete response head.")
    var headTimeout: Double = 10

    @Option(help: "Seconds the whole ramp may take before unopened clients count as failed (default: N/ramp + 30).")
    var rampTimeout: Double?

    @Option(
        help: ArgumentHelp(
            "Loopback source addresses to spread connections over (127.0.0.1, 127.0.0.2, …); 0: one per 10,000 connections.",
            discussion:
                "One source address gives one server 28,232 ephemeral ports, and Linux's port search slows down sharply past ~14,000 connections."))
    var sourceAddresses: Int = 0

    @Option(help: "The server's process id: sample its RSS (VmRSS) and CPU time (utime+stime) from /proc.")
    var serverPid: Int32?

    @Flag(help: "No progress lines on stderr.")
    var quiet = false

    @Flag(help: "Speak TLS (as an https:// URL does), without verifying the server's certificate.")
    var tls = false

    @Flag(
        help: ArgumentHelp(
            "HTTP/2 (idle and fanout): the streams share connections, --streams-per-connection on each.",
            discussion:
                "Over TLS the connection offers h2 in ALPN (and fails if the server picks anything else); in cleartext it opens with the HTTP/2 preface (prior knowledge)."
        ))
    var h2 = false

    @Option(help: "With --h2: streams on one connection (N streams make ceil(N / M) connections).")
    var streamsPerConnection: Int = 100

    @Argument(help: "The stream's URL, such as http://127.0.0.1:18090/stream (or https://).")
    var url: String

    func validate() throws {
        guard connections > 0 else { throw ValidationError("-c must be at least 1") }
        guard ramp > 0, maxPending > 0 else { throw ValidationError("--ramp and --max-pending must be at least 1") }
        guard retries >= 0 else { throw ValidationError("--retries must be >= 0") }
        guard (0...254).contains(sourceAddresses) else { throw ValidationError("--source-addresses must be in 0...254") }
        guard connectTimeout > 0, headTimeout > 0 else { throw ValidationError("timeouts must be > 0") }
        guard streamsPerConnection > 0 else { throw ValidationError("--streams-per-connection must be at least 1") }
        _ = try TargetURL(url)
    }

    var effectiveRampTimeout: Double { rampTimeout ?? (Double(connections) / Double(ramp) + 30) }

    /// TCP connections the run opens: one per stream, or with `--h2` ceil(N / M).
    var http2ConnectionCount: Int { (connections + streamsPerConnection - 1) / streamsPerConnection }

    /// What the RESULT line says about the protocol: `protocol=h1|h2 streams_per_connection=M
    /// tcp_connections=T`.
    var protocolFields: String {
        h2
            ? "protocol=h2 streams_per_connection=\(streamsPerConnection) tcp_connections=\(http2ConnectionCount)"
            : "protocol=h1 streams_per_connection=1 tcp_connections=\(connections)"
    }

    /// The local addresses clients connect from, in turn; empty: let the kernel choose. Only for
    /// an IPv4 loopback target (any 127.x address reaches it).
    func sourceHosts(for target: SocketAddress) -> [String] {
        guard !target.isIPv6, target.host.hasPrefix("127.") else { return [] }
        let count = sourceAddresses > 0 ? sourceAddresses : (connections + 9_999) / 10_000
        guard count > 1 else { return [] }
        return (1...count).map { "127.0.0.\($0)" }
    }
}
