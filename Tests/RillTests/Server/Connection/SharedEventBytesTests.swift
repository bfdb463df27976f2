import RillPubSub
import Testing

@testable import Rill
@testable import RillCore

/// Streams that lag behind hold the events they wait to send as the arrays every stream of the
/// fan-out shares, not as copies: a thousand slow readers of a channel hold its events once.
@Suite struct SharedEventBytesTests {
    /// The broker the router's handler subscribes with, set once the harness's loop exists.
    private final class BrokerBox: @unchecked Sendable {
        var broker: InMemoryBroker?
    }

    /// `/news` relays a subscription to the channel "news" of `broker`.
    private func router(_ broker: @escaping @Sendable () -> InMemoryBroker) -> Router {
        let router = Router()
        router.get("/news") { request, context in
            try EventStream(try await broker().subscribe(to: ["news"], lastEventID: nil)).response(from: request, context: context)
        }
        return router
    }

    /// Where an array's bytes are.
    private static func address(_ bytes: [UInt8]) -> UnsafeRawPointer? { bytes.withUnsafeBytes { $0.baseAddress } }

    @Test func `two streams that stopped reading are handed the same arrays for the same events, not copies`() async throws {
        let box = BrokerBox()
        let harness = try ConnectionHarness(router { box.broker! })
        let broker = InMemoryBroker(eventLoop: harness.loop)
        box.broker = broker
        await harness.flushEventStreams()
        let first = harness.transport
        await harness.connect()
        let second = await harness.connectAnother()
        await harness.onLoop { _ in
            first.receive("GET /news HTTP/1.1\r\nHost: x\r\n\r\n")
            second.receive("GET /news HTTP/1.1\r\nHost: x\r\n\r\n")
        }
        #expect(await eventually { await broker.statistics().subscribersPerChannel["news"] == 2 })
        // Both stop reading after the head: the first event waits in the transport, the next
        // ones with the stream until the client reads.
        await harness.onLoop { _ in
            first.holdsWrites = true
            second.holdsWrites = true
        }
        func publish(_ number: Int) async throws {
            _ = try await broker.publish(ServerSentEvent(data: String(repeating: "e\(number)", count: 500)), to: "news")
        }
        try await publish(1)
        #expect(await eventually { await harness.onLoop { _ in first.writtenText.contains("e1e1") && second.writtenText.contains("e1e1") } })
        for number in 2...4 { try await publish(number) }
        await harness.onLoop { _ in
            first.clientReads()
            second.clientReads()
        }
        #expect(await eventually { await harness.onLoop { _ in first.writtenText.contains("e4e4") && second.writtenText.contains("e4e4") } })
        let (firstArrays, secondArrays) = await harness.onLoop { _ in (first.writtenArrays, second.writtenArrays) }
        // Each event's chunk, as each stream was handed it.
        func chunks(_ arrays: [[UInt8]]) -> [Int: UnsafeRawPointer?] {
            var found: [Int: UnsafeRawPointer?] = [:]
            for array in arrays {
                for number in 1...4 where String(decoding: array, as: UTF8.self).contains("e\(number)e\(number)") {
                    found[number] = Self.address(array)
                }
            }
            return found
        }
        let firstChunks = chunks(firstArrays)
        let secondChunks = chunks(secondArrays)
        #expect(firstChunks.count == 4 && secondChunks.count == 4, "each event handed over as an array of its own")
        for number in 1...4 { #expect(firstChunks[number]! == secondChunks[number]!, "event \(number): one array for both streams") }
        await harness.shutdown()
    }
}
