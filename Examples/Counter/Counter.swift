// Counter — the async-generator example: `/stream` yields
// `{"count": n, "time": "...", "message": "Hello"}` every second from an AsyncSequence, and logs
// when a client disconnects and the sequence stops.
//
// What it shows: an `EventStream` fed by any `AsyncSequence` of events, running on the event
// loop (the sequence sleeps with `eventLoop.sleep`, a libuv timer), resuming after
// `Last-Event-ID`, and cancellation on disconnect.
//
//   swift run -c release Counter --port 8080
//   curl -N localhost:8080/stream                       # a count every second; Ctrl-C to leave
//   curl -N localhost:8080/stream -H 'Last-Event-ID: 41' # continues at 42
//   curl -N 'localhost:8080/stream?interval_ms=200'     # faster
import ArgumentParser
import Foundation
import Rill

#if canImport(Glibc)
    import Glibc
#endif

/// One tick of the counter.
struct Tick: Encodable, Sendable {
    var count: Int
    var time: String
    var message: String
}

/// An endless sequence of ticks, one per interval, on the event loop's own timer.
struct Ticks: AsyncSequence, Sendable {
    typealias Element = ServerSentEvent
    let start: Int
    let interval: Duration
    let eventLoop: EventLoop

    struct AsyncIterator: AsyncIteratorProtocol {
        var count: Int
        let interval: Duration
        let eventLoop: EventLoop

        mutating func next() async throws -> ServerSentEvent? {
            if count > 0 { try await eventLoop.sleep(for: interval) }  // CancellationError when the client leaves
            count += 1
            let tick = Tick(count: count, time: Self.now(), message: "Hello")
            return try ServerSentEvent(json: tick, id: String(count), encoder: Self.encoder)
        }

        /// Sorted keys: the same bytes for the same tick, whatever the platform's dictionary order.
        private static var encoder: JSONEncoder {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return encoder
        }

        private static func now() -> String {
            var seconds = time(nil)
            var parts = tm()
            gmtime_r(&seconds, &parts)
            var buffer = [CChar](repeating: 0, count: 32)
            strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
            return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(count: start, interval: interval, eventLoop: eventLoop) }
}

@main
struct Counter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Counts once a second over Server-Sent Events.")

    @Option(help: "The address to bind.") var host = "127.0.0.1"
    @Option(help: "The port to listen on (0 picks a free one).") var port = 8080

    func run() async throws {
        let router = Router()
        router.get("/") { _, _ in "Counter: curl -N <this address>/stream\n" }
        router.get("/stream") { request, context in
            // An id this server never sent (not a number, negative, beyond UInt32) starts over.
            let start = UInt32(request.lastEventID ?? "").map(Int.init) ?? 0
            // Absent: a second. Present, it must be a whole number in range (`1e3`, or one past
            // Int, is a 400, not a silent default).
            let milliseconds = request.query["interval_ms"].map { Int($0) ?? -1 } ?? 1000
            guard (10...60_000).contains(milliseconds) else {
                throw HTTPError(.badRequest, message: "interval_ms must be between 10 and 60000")
            }
            let peer = context.remoteAddress?.description ?? "?"
            context.logger.info("client connected", metadata: ["peer": "\(peer)", "from": "\(start)"])
            let ticks = Ticks(start: start, interval: .milliseconds(milliseconds), eventLoop: context.eventLoop)
            return EventStream { stream in
                defer { context.logger.info("client disconnected, sequence stopped", metadata: ["peer": "\(peer)"]) }
                for try await tick in ticks { try await stream.send(tick) }
            }
        }
        let app = try Application(router: router, configuration: .init(host: host, port: port))
        let address = try await app.start()
        print("listening on http://\(address)")
        fflush(nil)  // stdout may be a pipe: make the line visible now
        // A service in a group, beside any other of the program's: SIGTERM or SIGINT shut it down gracefully.
        try await ServiceGroup(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: app.logger).run()
    }
}
