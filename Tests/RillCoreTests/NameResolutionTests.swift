import RillCore
import Synchronization
import Testing

/// `EventLoop.resolve(host:port:)`: names are looked up on libuv's thread pool, never on the loop.
@Suite(.timeLimit(.minutes(1))) struct NameResolutionTests {
    @Test func `numeric hosts need no lookup`() async throws {
        let loop = try EventLoop(name: "resolve-test")
        #expect(try await loop.resolve(host: "127.0.0.1", port: 6379) == [SocketAddress(host: "127.0.0.1", port: 6379, isIPv6: false)])
        #expect(try await loop.resolve(host: "::1", port: 80) == [SocketAddress(host: "::1", port: 80, isIPv6: true)])
        // On the loop, a numeric host completes before resolve returns.
        let inline = await Task(executorPreference: loop.executor) { () -> Bool in
            var done = false
            loop.resolve(host: "10.1.2.3", port: 1) { result in done = (try? result.get())?.first?.host == "10.1.2.3" }
            return done
        }.value
        #expect(inline)
        await loop.shutdown()
        #expect(loop.leakedHandleCount == 0 && loop.closeResult == 0)
    }

    @Test func `a name is resolved off the loop, which keeps running`() async throws {
        let loop = try EventLoop(name: "resolve-test")
        let outcome = try await Task(executorPreference: loop.executor) {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<(Bool, [SocketAddress]), any Error>) in
                var returned = false
                loop.resolve(host: "localhost", port: 6379) { result in
                    let completedInline = !returned
                    continuation.resume(with: result.map { (completedInline, $0) }.mapError { $0 as any Error })
                }
                returned = true
            }
        }.value
        #expect(!outcome.0, "a name must not be resolved inside the call, on the loop's thread")
        #expect(!outcome.1.isEmpty)
        #expect(outcome.1.allSatisfy { $0.port == 6379 && ($0.host == "127.0.0.1" || $0.host == "::1") }, "\(outcome.1)")
        // The async form, from a task on another executor.
        let addresses = try await loop.resolve(host: "localhost", port: 80)
        #expect(addresses.contains { $0.host == "127.0.0.1" || $0.host == "::1" })
        await loop.shutdown()
        #expect(loop.leakedHandleCount == 0 && loop.closeResult == 0)
    }

    @Test func `the loop serves timers while many lookups are in flight`() async throws {
        let loop = try EventLoop(name: "resolve-test")
        let ticks = try await Task(executorPreference: loop.executor) {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Int, any Error>) in
                var remaining = 64
                var ticks = 0
                func tick() {
                    ticks += 1
                    if remaining > 0 { loop.schedule(after: .milliseconds(1), tick) }
                }
                // Timers that run before the last lookup completes count: with lookups on the
                // loop's thread, all of them would complete inside these calls, before any timer.
                loop.schedule(after: .zero, tick)
                for _ in 0..<64 {
                    loop.resolve(host: "localhost", port: 1) { _ in
                        remaining -= 1
                        if remaining == 0 { continuation.resume(returning: ticks) }
                    }
                }
            }
        }.value
        #expect(ticks >= 1)
        await loop.shutdown()
        #expect(loop.leakedHandleCount == 0 && loop.closeResult == 0)
    }

    @Test func `an unknown name fails with a clear error`() async throws {
        let loop = try EventLoop(name: "resolve-test")
        // Not a valid host name: the resolver refuses it without asking any DNS server.
        do {
            let addresses = try await loop.resolve(host: "not a host", port: 6379)
            Issue.record("resolved to \(addresses)")
        } catch {
            #expect(error.operation == "resolving host not a host")
            #expect(error.name.hasPrefix("EAI_"), "\(error)")
            #expect("\(error)".hasPrefix("resolving host not a host failed: EAI_"), "\(error)")
        }
        await #expect(throws: UVError.self) { try await loop.resolve(host: "127.0.0.1", port: 70000) }
        await loop.shutdown()
        #expect(loop.leakedHandleCount == 0 && loop.closeResult == 0)
    }
}
