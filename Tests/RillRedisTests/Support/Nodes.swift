import Dispatch
import Foundation
import Logging
import RillCore
import RillPubSub
import RillRedis
import RillSSE
import RillTestSupport
import Synchronization
import Testing

/// One "process" of a multi-process deployment: its own event loop and its own RedisBroker.
struct Node: Sendable {
    let loop: EventLoop
    let broker: RedisBroker

    static func start(
        _ server: RedisServer, broker: BrokerConfiguration = .init(), prefix: String = "rill:",
        adjust: (inout RedisBroker.Configuration) -> Void = { _ in }
    ) async throws -> Node {
        let loop = try EventLoop(name: "redis-test")
        var configuration = try RedisBroker.Configuration(url: server.url, broker: broker, keyPrefix: prefix)
        adjust(&configuration)
        do {
            return Node(loop: loop, broker: try await RedisBroker.connect(eventLoop: loop, configuration: configuration, logger: quietLogger))
        } catch {
            await loop.shutdown()
            throw error
        }
    }

    /// Closes the broker, shuts the loop down and checks that nothing was left open.
    func shutdown(sourceLocation: SourceLocation = #_sourceLocation) async {
        await broker.close()
        await loop.shutdown()
        #expect(loop.leakedHandleCount == 0, sourceLocation: sourceLocation)
        #expect(loop.closeResult == 0, sourceLocation: sourceLocation)
    }

    /// Publishes and waits for the receipt, blocking the calling (plain) thread.
    /// Publishes events with data "1" … "`total`" from a plain thread, one at a time (each after
    /// the previous reply), `pauseMicroseconds` apart, to the channel `channel(number)` names.
    /// Returns at once.
    func publishInBackground(
        _ total: Int, pauseMicroseconds: UInt32, to channel: @escaping @Sendable (Int) -> String
    ) -> BackgroundPublisher {
        let publisher = BackgroundPublisher()
        _ = onPlainThread {
            for number in 1...total {
                if case .failure = publishBlocking(ServerSentEvent(data: String(number)), to: channel(number)) {
                    publisher.failures.add(1, ordering: .relaxed)
                }
                usleep(pauseMicroseconds)
            }
            publisher.finished.signal()
        }
        return publisher
    }

    func publishBlocking(_ event: ServerSentEvent, to channel: String) -> Result<PublishReceipt, BrokerError> {
        let done = DispatchSemaphore(value: 0)
        let outcome = Outcome()
        let broker = self.broker
        loop.execute {
            broker.publishOnLoop(event, to: channel) { result in
                outcome.result = result
                done.signal()
            }
        }
        done.wait()
        return outcome.result!
    }

    private final class Outcome: @unchecked Sendable {
        var result: Result<PublishReceipt, BrokerError>?
    }

    /// Publishes `data` one after the other in a single loop turn (pipelined on the command
    /// connection) and returns the receipts in order.
    func publishPipelined(_ data: [String], to channel: String) async throws -> [PublishReceipt] {
        let broker = self.broker
        return try await Task(executorPreference: loop.executor) {
            var pending: [Result<PublishReceipt, BrokerError>?] = Array(repeating: nil, count: data.count)
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                var remaining = data.count
                for (index, text) in data.enumerated() {
                    broker.publishOnLoop(ServerSentEvent(data: text), to: channel) { result in
                        pending[index] = result
                        remaining -= 1
                        if remaining == 0 { continuation.resume() }
                    }
                }
            }
            return try pending.map { try $0!.get() }
        }.value
    }
}

/// Connection warnings are expected in these tests; keep the output for failures.
let quietLogger: Logger = {
    var logger = Logger(label: "rill.redis.tests")
    logger.logLevel = .error
    return logger
}()

/// ``Node/publishInBackground(_:pauseMicroseconds:to:)``'s progress.
final class BackgroundPublisher: Sendable {
    /// Publishes that failed.
    let failures = Atomic<Int>(0)
    /// Signalled after the last publish.
    let finished = DispatchSemaphore(value: 0)
}

struct Timeout: Error, CustomStringConvertible {
    let description: String
}

/// The next `count` events of `subscription`, iterated on its loop; fails after `timeout`.
func take(_ count: Int, from subscription: Subscription, within timeout: Duration = .seconds(5)) async throws -> [BrokerEvent] {
    try await withThrowingTaskGroup(of: [BrokerEvent]?.self) { group in
        group.addTask(executorPreference: subscription.eventLoop.executor) {
            var events: [BrokerEvent] = []
            guard count > 0 else { return events }
            for try await event in subscription {
                events.append(event)
                if events.count == count { break }
            }
            return events
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        guard let events = first else { throw Timeout(description: "fewer than \(count) events within \(timeout)") }
        return events
    }
}

/// Waits until `condition` holds, checking every 20 ms; fails after `timeout`.
func eventually(
    within timeout: Duration = .seconds(10), _ what: String, _ condition: @Sendable () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw Timeout(description: "\(what) did not happen within \(timeout)")
}

/// Waits for `semaphore` without blocking a cooperative-pool thread (the wait runs on a
/// Dispatch thread).
func waitWithoutBlocking(for semaphore: DispatchSemaphore) async {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async {
            semaphore.wait()
            continuation.resume()
        }
    }
}

/// Runs `body` on a new plain thread (not the cooperative pool) and returns when it has started.
func onPlainThread(_ body: @escaping @Sendable () -> Void) -> Thread {
    let thread = Thread { body() }
    thread.start()
    return thread
}

func dataOf(_ events: [BrokerEvent]) -> [String] { events.map { $0.event.data ?? "" } }
