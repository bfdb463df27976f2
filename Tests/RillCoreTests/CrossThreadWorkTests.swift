import Dispatch
import Logging
import RillCore
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Work submitted to a loop from other threads: bounded, drained under the budget, and never
/// touching the loop after it stopped.
@Suite struct CrossThreadWorkTests {
    /// Refusals are expected here: keep their warnings out of the test output.
    static let quiet = Logger(label: "rill-test") { _ in SwiftLogNoOpLogHandler() }

    /// Counts the closures it is captured by that were released (run or not).
    final class ReleaseCounter: Sendable {
        let tally: Tally
        init(_ tally: Tally) { self.tally = tally }
        deinit { tally.value.add(1, ordering: .relaxed) }
    }

    final class Tally: Sendable {
        let value = Atomic<Int>(0)
        var count: Int { value.load(ordering: .relaxed) }
    }

    @Test func `execute during shutdown runs or refuses every closure and never touches the stopped loop`() async throws {
        for _ in 0..<5 {
            let loop = try EventLoop(name: "shutdown-race", logger: Self.quiet)
            let ran = Atomic<Int>(0)
            let refused = Atomic<Int>(0)
            let submitted = Atomic<Int>(0)
            let stopped = Atomic<Bool>(false)
            let started = DispatchSemaphore(value: 0)
            let finished = DispatchSemaphore(value: 0)
            // A thread that submits before, during and after shutdown: until 1,000 refusals
            // after shutdown returned (bounded either way).
            DispatchQueue.global().async {
                started.signal()
                var iterations = 0
                var refusedWhenStopped: Int?
                while iterations < 5_000_000 {
                    if refusedWhenStopped == nil && stopped.load(ordering: .acquiring) {
                        refusedWhenStopped = refused.load(ordering: .relaxed)
                    }
                    if let refusedWhenStopped, refused.load(ordering: .relaxed) - refusedWhenStopped >= 1000 { break }
                    iterations += 1
                    submitted.add(1, ordering: .relaxed)
                    if !loop.execute({ ran.add(1, ordering: .relaxed) }) { refused.add(1, ordering: .relaxed) }
                }
                finished.signal()
            }
            await wait(for: started)
            await loop.shutdown()
            stopped.store(true, ordering: .releasing)
            await wait(for: finished)
            // Every closure ran once or was refused and counted; none vanished.
            #expect(refused.load(ordering: .relaxed) >= 1000)
            #expect(ran.load(ordering: .relaxed) + refused.load(ordering: .relaxed) == submitted.load(ordering: .relaxed))
            #expect(loop.droppedClosureCount == refused.load(ordering: .relaxed))
            #expect(loop.closeResult == 0)
        }
    }

    @Test func `a refused closure is released and a task after shutdown is counted, not run`() async throws {
        let loop = try EventLoop(name: "stopped", logger: Self.quiet)
        await loop.shutdown()
        let released = Tally()
        let ran = Atomic<Int>(0)
        let accepted = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let accepted = { () -> Bool in
                    let counter = ReleaseCounter(released)
                    return loop.execute {
                        _ = counter; ran.add(1, ordering: .relaxed)
                    }
                }()
                continuation.resume(returning: accepted)
            }
        }
        #expect(!accepted)
        #expect(released.count == 1)
        #expect(ran.load(ordering: .relaxed) == 0)
        #expect(loop.droppedClosureCount == 1)
        // A sleep from another thread fails instead of waiting forever for the stopped loop.
        await #expect(throws: UVError.self) { try await loop.sleep(for: .milliseconds(1)) }
        // A task enqueued on the stopped loop never runs; the drop is counted. The task, and the
        // loop it holds, can never be freed: LeakSanitizer reports them (about 6 KB) — the one
        // leak of this suite, deliberate (suppress it by this test's name under ASan).
        let before = loop.executor.droppedJobCount.load(ordering: .relaxed)
        _ = Task(executorPreference: loop.executor) { ran.add(1, ordering: .relaxed) }
        for _ in 0..<1000 where loop.executor.droppedJobCount.load(ordering: .relaxed) == before {
            try await Task.sleep(for: .milliseconds(2))
        }
        #expect(loop.executor.droppedJobCount.load(ordering: .relaxed) == before + 1)
        #expect(ran.load(ordering: .relaxed) == 0)
    }

    /// Waits for `semaphore` without blocking a thread of the cooperative pool.
    private func wait(for semaphore: DispatchSemaphore) async {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                semaphore.wait()
                continuation.resume()
            }
        }
    }

    /// Blocks the loop thread in a timer callback until `body` (on the calling thread) returns.
    /// With a `delay`, the callback first schedules `timer` that far from the start of its
    /// iteration, so it cannot fire in that iteration but is due in the next one.
    private func whileLoopIsBlocked(
        _ loop: EventLoop, scheduling delay: Duration? = nil, timer: @escaping @Sendable () -> Void = {},
        _ body: () -> Void
    ) async {
        let blocked = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        loop.execute {
            loop.schedule(after: .zero) {
                if let delay { loop.schedule(after: delay, timer) }
                blocked.signal()
                release.wait()
                // Let the first timer come due (its deadline is from this iteration's start).
                usleep(3000)
            }
        }
        await wait(for: blocked)
        body()
        release.signal()
    }

    @Test func `cross-thread closures beyond the limit are refused and counted`() async throws {
        let loop = try EventLoop(name: "bounded", maxPendingCrossThreadClosures: 100, logger: Self.quiet)
        #expect(loop.maxPendingCrossThreadClosures == 100)
        let ran = Atomic<Int>(0)
        let released = Tally()
        var results: [Bool] = []
        await whileLoopIsBlocked(loop) {
            for _ in 0..<130 {
                let counter = ReleaseCounter(released)
                results.append(
                    loop.execute {
                        _ = counter; ran.add(1, ordering: .relaxed)
                    })
            }
        }
        #expect(results.prefix(100).allSatisfy { $0 })
        #expect(results.suffix(30).allSatisfy { !$0 })
        #expect(loop.droppedClosureCount == 30)
        // The refused ones were released at once, without running.
        #expect(released.count >= 30)
        // (Not awaited with one more `execute`: the queue may still be full.)
        for _ in 0..<2500 where ran.load(ordering: .relaxed) < 100 { try await Task.sleep(for: .milliseconds(2)) }
        #expect(ran.load(ordering: .relaxed) == 100)
        // Once drained, the queue takes closures again.
        #expect(loop.execute {})
        await loop.shutdown()
        #expect(released.count == 130)
        #expect(loop.closeResult == 0)
    }

    @Test func `a long cross-thread queue is drained in budgets with the loop serviced between`() async throws {
        let loop = try EventLoop(name: "budget")
        let total = 4 * LoopExecutor.jobsPerDrainBudget
        let order = Mutex<[Int]>([])
        let allRan = DispatchSemaphore(value: 0)
        await whileLoopIsBlocked(loop, scheduling: .milliseconds(1), timer: { order.withLock { $0.append(-1) } }) {
            for index in 0..<total {
                loop.execute {
                    order.withLock { $0.append(index) }
                    if index == total - 1 { allRan.signal() }
                }
            }
        }
        await wait(for: allRan)
        let seen = order.withLock { $0 }
        #expect(seen.filter { $0 >= 0 } == Array(0..<total))
        // The timer came due while the closures were queued: it fired between budgets, before the
        // last of them, instead of after one drain that ran them all.
        let timerPosition = try #require(seen.firstIndex(of: -1))
        #expect(timerPosition < total)
        #expect(timerPosition >= LoopExecutor.jobsPerDrainBudget)
        await loop.shutdown()
    }
}

extension CrossThreadWorkTests {
    @Test func `cleanup bypasses a full queue but not a stopped loop`() async throws {
        let loop = try EventLoop(name: "cleanup", maxPendingCrossThreadClosures: 10, logger: Self.quiet)
        let ran = Atomic<Int>(0)
        var results: [Bool] = []
        await whileLoopIsBlocked(loop) {
            for _ in 0..<10 { results.append(loop.execute { ran.add(1, ordering: .relaxed) }) }
            results.append(loop.execute { ran.add(1, ordering: .relaxed) })
            results.append(loop.executeBypassingLimit { ran.add(100, ordering: .relaxed) })
        }
        #expect(results == Array(repeating: true, count: 10) + [false, true])
        for _ in 0..<2500 where ran.load(ordering: .relaxed) < 110 { try await Task.sleep(for: .milliseconds(2)) }
        #expect(ran.load(ordering: .relaxed) == 110)
        await loop.shutdown()
        let accepted = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: loop.executeBypassingLimit {}) }
        }
        #expect(!accepted)
        #expect(loop.droppedClosureCount == 2)
    }
}
