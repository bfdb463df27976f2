import CRillTestHooks
import HTTPTypes
import Rill
import RillTestSupport
import RillTesting
import Synchronization
import Testing

@testable import RillJWT

/// Verifying a token (jwt-kit's key collection is an actor) and arming the stream's deadline
/// stay on the loop thread: no hop to the global executor per stream.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct JWTLoopAffinityTests {
    @Test func `opening streams with a JWT makes no global-executor enqueue on the loop thread`() async throws {
        let authorizer = try await JWTAuthorizer(keys: [.hmac(secret: TestKeys.secret)])
        let app = try jwtApplication(authorizer)
        let token = try await TestKeys.hs256(.expiring(subscribe: ["a"], publish: ["a"]))
        rill_install_global_enqueue_counter()
        try await app.test(.live) { client in
            let watching = Atomic<Bool>(false)
            _ = app.eventLoop.execute {
                rill_watch_current_thread_for_global_enqueues()
                watching.store(true, ordering: .releasing)
            }
            #expect(await eventually { watching.load(ordering: .acquiring) })
            for _ in 0..<5 {
                let stream = try await client.sse("/stream?channel=a", headerFields: [.authorization: "Bearer \(token)"])
                #expect(stream.status == .ok)
                stream.close()
            }
            let published = try await client.post("/publish?channel=a", text: "x", headerFields: [.authorization: "Bearer \(token)"])
            #expect(published.status == .ok)
            let count = Atomic<Int>(-1)
            _ = app.eventLoop.execute { count.store(rill_global_enqueue_count(), ordering: .releasing) }
            #expect(await eventually { count.load(ordering: .acquiring) >= 0 })
            #expect(count.load(ordering: .acquiring) == 0, "global-executor enqueues on the loop thread")
        }
    }
}
