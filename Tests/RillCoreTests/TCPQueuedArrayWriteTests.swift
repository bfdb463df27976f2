import RillCore
import Synchronization
import Testing

/// Arrays a peer cannot take at once are queued as the arrays themselves (not copies): what
/// arrives must still be every byte, in order, whatever the writer does with its own copies.
@Suite struct TCPQueuedArrayWriteTests {
    /// Closes when the peer closes, and says so; otherwise does nothing.
    private final class QuietDelegate: TransportDelegate, @unchecked Sendable {
        let closed: @Sendable () -> Void
        init(closed: @escaping @Sendable () -> Void) { self.closed = closed }
        func transport(_ stream: any Transport, didRead bytes: UnsafeRawBufferPointer) {}
        func transport(_ stream: any Transport, didEndReadingWith error: UVError?) { stream.close() }
        func transportDidDrain(_ stream: any Transport) {}
        func transportDidClose(_ stream: any Transport) { closed() }
    }

    /// Bytes no stretch of which repeats within a chunk's reach.
    private static let pattern: [UInt8] = (0..<131_072).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }

    /// 8 MiB: more than a loopback socket's buffers take.
    private static let large = Array(repeatElement(pattern, count: 64).joined())

    /// Chunks of uneven sizes (some empty), each a different stretch of ``pattern``.
    private static func chunks(round: Int) -> [[UInt8]] {
        (0..<97).map { index in
            let size = index % 11 == 0 ? 0 : (index * 7_919 + round * 104_729) % 60_000 + 1
            let start = (index * 613 + round * 7_001) % 65_536
            return Array(pattern[start..<(start + size)])
        }
    }

    @Test func `a peer that reads late gets every queued byte in order, unchanged by the writer's later changes`() async throws {
        let loop = try EventLoop()
        let queuedAfterWriting = Mutex(0)
        let written = Mutex(false)
        let closed = Mutex(false)
        let listener = try await Task(executorPreference: loop.executor) {
            try TCPListener(loop: loop, host: "127.0.0.1", port: 0) { stream in
                stream.delegate = QuietDelegate { closed.withLock { $0 = true } }
                stream.startReading()
                stream.write(Self.large)
                // One array larger than the kernel takes at once (its rest is queued from where
                // the kernel stopped), then rounds of one writev each, a plain array write between them; the writer then
                // changes its own arrays, which must not change what is sent.
                for round in 0..<4 {
                    var chunks = Self.chunks(round: round)
                    stream.write(contentsOf: chunks)
                    var single = [UInt8](repeating: UInt8(round), count: 30_000)
                    stream.write(single)
                    for index in chunks.indices where !chunks[index].isEmpty { chunks[index][0] &+= 1 }
                    single[0] = 0xFF
                    _ = (chunks, single)
                }
                queuedAfterWriting.withLock { $0 = stream.queuedBytes }
                written.withLock { $0 = true }
                stream.closeAfterFlush()
            }
        }.value
        var expected = Self.large
        for round in 0..<4 {
            for chunk in Self.chunks(round: round) { expected += chunk }
            expected += [UInt8](repeating: UInt8(round), count: 30_000)
        }
        let client = try BlockingClient(port: listener.localAddress.port, receiveTimeoutSeconds: 10)
        for _ in 0..<500 where !written.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
        // Megabytes waited in the stream's queue (the kernel takes a few): the queued path was taken.
        #expect(queuedAfterWriting.withLock { $0 } > 1_000_000)
        let received = try client.receiveUntilClose()
        #expect(received.count == expected.count)
        // Where they differ, if they do (not the arrays: megabytes in a failure message).
        let same = received == expected
        #expect(same, "first difference at \(zip(received, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1)")
        // The server lingers after its flush until the client closes too.
        client.shutdownWrite()
        for _ in 0..<500 where !closed.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
        loop.execute { listener.close() }
        await loop.shutdown()
        #expect(loop.leakedHandleCount == 0)
    }
}
