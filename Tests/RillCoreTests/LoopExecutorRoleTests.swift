import RillCore
import Testing

/// A job keeps the role it was enqueued for: a nonisolated task with the loop as its preference
/// calls nonisolated async functions inline, and an actor on the loop's serial executor runs
/// isolated to it, on the loop thread. Counted in jobs, not time.
@Suite struct LoopExecutorRoleTests {
    /// Jobs the loop's executor received on its own thread while `body` ran in a task with the
    /// loop as its preference.
    private func jobs(on loop: EventLoop, _ body: @escaping @Sendable () async -> Void) async -> Int {
        await Task(executorPreference: loop.executor) { () -> Int in
            let before = loop.executor.localEnqueueCount
            await body()
            return loop.executor.localEnqueueCount - before
        }.value
    }

    @Test func `nonisolated async calls continue inline without a job each`() async throws {
        let loop = try EventLoop()
        let count = await jobs(on: loop) {
            for n in 0..<100 { _ = await nonisolatedWork(n) }
        }
        // Run as if isolated to the serial executor, each call would switch: about a job per call.
        #expect(count == 0)
        await loop.shutdown()
    }

    @Test func `an actor on the loop runs isolated on the loop thread`() async throws {
        let loop = try EventLoop()
        let counter = LoopCounter(loop: loop)
        let count = await jobs(on: loop) {
            for _ in 0..<100 { await counter.increment() }
        }
        // Each call enters the actor and comes back: at most two jobs, never a storm.
        #expect(count <= 200)
        #expect(await counter.value == 100)
        #expect(await counter.ranOnLoopThread)
        // Isolation is known to the runtime on the loop thread, outside any task as well.
        let assumed = await withCheckedContinuation { (result: CheckedContinuation<Int, Never>) in
            loop.execute { result.resume(returning: counter.assumeIsolated { $0.value }) }
        }
        #expect(assumed == 100)
        await loop.shutdown()
    }
}

private func nonisolatedWork(_ n: Int) async -> Int {
    await Task.yieldIfNeeded(n)
}

extension Task where Success == Never, Failure == Never {
    /// An async function that never suspends (the compiler cannot see that).
    fileprivate static func yieldIfNeeded(_ n: Int) async -> Int { n &+ 1 }
}

private actor LoopCounter {
    let loop: EventLoop
    private(set) var value = 0
    private(set) var ranOnLoopThread = true

    init(loop: EventLoop) { self.loop = loop }

    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.executor.asUnownedSerialExecutor() }

    func increment() {
        value += 1
        if !loop.inEventLoop { ranOnLoopThread = false }
    }
}
