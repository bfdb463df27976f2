import Foundation
import RillCore
import RillPubSub
import RillRedis
import RillSSE
import RillTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The reply timeout: a Redis that stops answering is given up (and found again), while a loop
/// that was only busy past the deadline — its command still unsent, or the answer unread — loses
/// nothing.
@Suite(.timeLimit(.minutes(1)))
struct RedisReplyTimeoutTests {
    /// Publishes from inside a loop turn that then keeps the loop busy for `busy`: the command
    /// is queued but cannot be written, nor its reply read, before the turn ends.
    private func publishThenBlock(_ node: Node, _ data: String, busy: Duration) async -> Result<PublishReceipt, BrokerError> {
        await withCheckedContinuation { continuation in
            node.loop.execute {
                node.broker.publishOnLoop(ServerSentEvent(data: data), to: "busy") { continuation.resume(returning: $0) }
                usleep(UInt32(busy.wholeMilliseconds * 1000))
            }
        }
    }

    @Test func `a loop kept busy past the reply timeout keeps a connection that answers`() async throws {
        let server = try RedisServer()
        // The reply of a command sent late gets half the timeout: 250 ms, ample on a loaded machine.
        let node = try await Node.start(server) { $0.replyTimeout = .milliseconds(500) }
        let subscription = try await node.broker.subscribe(to: ["busy"], lastEventID: nil)
        for round in 1...3 {
            let result = await publishThenBlock(node, "\(round)", busy: .milliseconds(1200))
            if case .failure(let error) = result { Issue.record("round \(round): \(error)") }
        }
        #expect(dataOf(try await take(3, from: subscription)) == ["1", "2", "3"])
        #expect(subscription.isActive)
        #expect(await node.broker.connectionStatus() == (true, true))
        await node.shutdown()
    }

    @Test func `a Redis that takes commands but answers none is given up however much is sent`() async throws {
        let server = try RedisServer()
        let node = try await Node.start(server) { $0.replyTimeout = .milliseconds(300) }
        server.suspend()
        // Publishes keep coming, each a few bytes the kernel takes: progress in writing alone
        // must not keep the connection (it would, until the socket's buffers filled: megabytes).
        let publishing = Task {
            while !Task.isCancelled {
                node.loop.execute { node.broker.publishOnLoop(ServerSentEvent(data: "into the void"), to: "hung") { _ in } }
                try? await Task.sleep(for: .milliseconds(1))
            }
        }
        try await eventually(within: .seconds(5), "the command connection given up") {
            await node.broker.connectionStatus().command == false
        }
        publishing.cancel()
        server.resume()
        await node.shutdown()
    }

    @Test func `a Redis that stops answering is given up after the reply timeout, and found again`() async throws {
        let server = try RedisServer()
        let node = try await Node.start(server) {
            $0.replyTimeout = .milliseconds(300)
            $0.connectTimeout = .milliseconds(300)
        }
        server.suspend()
        let started = ContinuousClock.now
        await #expect(throws: BrokerError.self) { try await node.broker.publish(ServerSentEvent(data: "unanswered"), to: "hung") }
        // Bounded by the reply timeout, not a hang (the margin absorbs a loaded machine).
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(await node.broker.connectionStatus().command == false)

        server.resume()
        try await eventually("the command connection back") { await node.broker.connectionStatus().command }
        _ = try await node.broker.publish(ServerSentEvent(data: "answered"), to: "hung")
        await node.shutdown()
    }
}
