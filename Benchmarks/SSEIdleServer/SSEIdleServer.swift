// SSEIdleServer — the server `make bench` measures for idle streams: `GET /stream` opens an
// event stream that sends nothing but its opening comment and idle heartbeats, forever.
//
//   swift build -c release --product SSEIdleServer
//   .build/release/SSEIdleServer --port 18090 --heartbeat 10
//   curl -N localhost:18090/stream                 # ":ok", then ":" every 10 s
//   .build/release/rill-load idle -c 1000 -d 15 --expect-heartbeat 10 http://127.0.0.1:18090/stream
//
// One event loop thread, as every Rill application. The soft open-file limit is raised to the
// hard limit at start, because 19,000 streams need about 19,010 descriptors.
//
// `--idle` picks what the suspended handler waits on:
// - `sleep` (default): `context.eventLoop.sleep(for: 1 day)`, the writer form a user would write
//   (one more timer-heap entry per stream).
// - `suspend`: a bare continuation that only cancellation resumes.
// - `subscribe`: `context.eventStream(for:)`, a broker subscription relayed by the connection
//   itself, with no task per stream — what a pub/sub hub's idle subscriber costs.
//
// `POST /publish?channel=NAME` publishes the request body verbatim as one event's data to NAME
// (default `sse`) with `context.publish` and answers `{"id":"…","subscribers":N}`: what
// `rill-load fanout` drives (the streams then need `--idle subscribe`).
//
// `--heap-stats SECONDS` prints glibc's heap in use (mallinfo2) and the open connections to
// stderr every SECONDS, for per-connection heap deltas (`heap_in_use_bytes=… connections=…`).
import ArgumentParser
import CMallocStats
import Rill
import RillRedis
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

@main
struct SSEIdleServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A Rill server whose GET /stream is an idle event stream (heartbeats only).")

    enum IdleProducer: String, ExpressibleByArgument, CaseIterable {
        case sleep, suspend, subscribe
    }

    @Option(help: "The address to bind.") var host = "127.0.0.1"
    @Option(help: "The port to listen on (0 picks a free one).") var port = 18090
    @Option(help: "Seconds between heartbeat comments on an idle stream (0 disables).") var heartbeat: Double = 15
    @Option(help: "What the idle handler awaits: sleep (a loop timer, 1 day) or suspend (a bare continuation).")
    var idle: IdleProducer = .sleep
    @Option(help: "The most open connections (the server answers 503 beyond).") var maxConnections = 19_500
    @Option(help: "Print heap in use and open connections to stderr every SECONDS (0: never).") var heapStats: Double = 0
    @Option(help: "Use a RedisBroker at this URL (redis://host:port/db) instead of the in-memory broker.") var redis: String?

    func validate() throws {
        guard heartbeat >= 0, heapStats >= 0 else { throw ValidationError("--heartbeat and --heap-stats must be >= 0") }
    }

    func run() async throws {
        let files = raiseOpenFileLimit()
        let interval = Duration.milliseconds(Int64(heartbeat * 1000))
        let idle = self.idle
        let router = Router()
        let configuration = ServerConfiguration(
            host: host, port: port, maxConnections: maxConnections, eventStream: .init(heartbeatInterval: interval))
        let broker = try redis.map { try BrokerFactory.redis(url: $0) } ?? .inMemory()
        let app = try Application(router: router, configuration: configuration, broker: broker)
        router.get("/stream") { request, context in
            switch idle {
            case .subscribe:
                return try await context.eventStream(for: request)
            case .sleep:
                return EventStream { _ in try await context.eventLoop.sleep(for: .seconds(86_400)) }
            case .suspend:
                return EventStream { _ in try await suspendUntilCancelled() }
            }
        }
        router.post("/publish", maxBodyBytes: 1 << 20) { request, context in
            let channel = request.query["channel"].flatMap { $0.isEmpty ? nil : $0 } ?? Application.defaultChannel
            let receipt = try await context.publish(ServerSentEvent(data: request.bodyText), channel: channel)
            var json = "{\"id\":\""
            for character in receipt.id.unicodeScalars {
                if character == "\"" || character == "\\" { json += "\\" }
                json.unicodeScalars.append(character)
            }
            json += "\",\"subscribers\":\(receipt.subscriberCount)}"
            return Response(headerFields: [.contentType: "application/json"], body: .text(json))
        }
        let address = try await app.start()
        print("listening on http://\(address) (open files: \(files), heartbeat: \(heartbeat) s, idle: \(idle.rawValue))")
        fflush(nil)  // stdout may be a pipe: make the line visible now
        if heapStats > 0 {
            let period = Duration.milliseconds(Int64(heapStats * 1000))
            Task(executorPreference: app.eventLoop.executor) {
                while true {
                    do { try await app.eventLoop.sleep(for: period) } catch { return }
                    let heap = rill_heap_stats_now()
                    let connections = await app.connectionCount()
                    var line =
                        "heap_in_use_bytes=\(heap.inUseBytes) heap_free_bytes=\(heap.freeBytes) mmap_bytes=\(heap.mmappedBytes) connections=\(connections)\n"
                    line.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
                }
            }
        }
        try await app.run()
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit now in force.
func raiseOpenFileLimit() -> UInt {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
    return UInt(limit.rlim_cur)
}

/// Suspends until the task is cancelled, then throws `CancellationError`. One continuation and
/// one small box: the least an idle stream can wait on.
func suspendUntilCancelled() async throws {
    let slot = Mutex<SuspendState>(.waiting(nil))
    try await withTaskCancellationHandler {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            let cancelled = slot.withLock { state -> Bool in
                if case .cancelled = state { return true }
                state = .waiting(continuation)
                return false
            }
            if cancelled { continuation.resume(throwing: CancellationError()) }
        }
    } onCancel: {
        let waiter = slot.withLock { state -> UnsafeContinuation<Void, any Error>? in
            defer { state = .cancelled }
            if case .waiting(let continuation) = state { return continuation }
            return nil
        }
        waiter?.resume(throwing: CancellationError())
    }
}

enum SuspendState {
    case waiting(UnsafeContinuation<Void, any Error>?)
    case cancelled
}
