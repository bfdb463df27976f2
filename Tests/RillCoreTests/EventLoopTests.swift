import CRillTestHooks
import RillCore
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct EventLoopTests {
    @Test func `shutting a loop down again, at once or later, joins its thread once`() async throws {
        // A second pthread_join of one thread is undefined behaviour (ThreadSanitizer aborts).
        let loop = try EventLoop(name: "twice")
        async let first: Void = loop.shutdown()
        async let second: Void = loop.shutdown()
        _ = await (first, second)
        await loop.shutdown()
        await Task.detached { loop.shutdownAndWait() }.value
        #expect(loop.closeResult == 0)
        #expect(EventLoop.current == nil)
    }

    @Test func `each loop thread knows its loop`() async throws {
        let loops = try (0..<2).map { try EventLoop(name: "current-\($0)") }
        for loop in loops {
            let found = await Task(executorPreference: loop.executor) { EventLoop.current === loop }.value
            #expect(found)
        }
        for loop in loops { await loop.shutdown() }
        #expect(EventLoop.availableCoreCount >= 1)
    }

    @Test func `a thread started after the loop exited is not the loop thread`() async throws {
        // glibc hands a joined thread's descriptor (its pthread_t) to the next thread created:
        // a comparison of pthread_t alone would take that thread for the dead loop's.
        for _ in 0..<5 {
            let loop = try EventLoop(name: "exiting-loop")
            await loop.shutdown()
            let box = LoopBox(loop: loop)
            var thread = pthread_t()
            let context = Unmanaged.passRetained(box).toOpaque()
            #expect(
                pthread_create(
                    &thread, nil,
                    { context in
                        let box = Unmanaged<LoopBox>.fromOpaque(context!).takeRetainedValue()
                        box.seen.store(box.loop.inEventLoop, ordering: .relaxed)
                        return nil
                    }, context) == 0)
            pthread_join(thread, nil)
            let seen = box.seen.load(ordering: .relaxed)
            #expect(!seen)
        }
    }

    @Test func `a loop makes broken pipes errors, not signals`() async throws {
        let loop = try EventLoop(name: "test-loop")
        var action = sigaction()
        #expect(sigaction(SIGPIPE, nil, &action) == 0)
        // A write to a reset socket must fail with EPIPE, not kill the process.
        #expect(unsafeBitCast(action.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self))
        await loop.shutdown()
    }

    @Test func `tasks with the loop as executor preference run on the loop thread`() async throws {
        let loop = try EventLoop(name: "test-loop")
        let results = try await Task(executorPreference: loop.executor) {
            var seen: [Bool] = [loop.inEventLoop]
            try await loop.sleep(for: .milliseconds(5))
            seen.append(loop.inEventLoop)
            async let child: Bool = { loop.inEventLoop }()
            seen.append(await child)
            return seen
        }.value
        #expect(results == [true, true, true])
        await loop.shutdown()
        #expect(loop.closeResult == 0)
        #expect(loop.leakedHandleCount == 0)
    }

    @Test func `execute from another thread runs on the loop in order`() async throws {
        let loop = try EventLoop()
        let order = Mutex<[Int]>([])
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            for index in 0..<1000 {
                loop.execute {
                    precondition(loop.inEventLoop)
                    order.withLock { $0.append(index) }
                    if index == 999 { done.resume() }
                }
            }
        }
        #expect(order.withLock { $0 } == Array(0..<1000))
        await loop.shutdown()
        #expect(loop.closeResult == 0)
    }

    @Test func `timers fire in deadline order and cancelled timers never`() async throws {
        let loop = try EventLoop()
        let fired = try await Task(executorPreference: loop.executor) { () -> [Int] in
            var fired: [Int] = []
            let late = loop.schedule(after: .milliseconds(30)) { fired.append(3) }
            loop.schedule(after: .milliseconds(20)) { fired.append(2) }
            loop.schedule(after: .milliseconds(10)) { fired.append(1) }
            let cancelled = loop.schedule(after: .milliseconds(15)) { fired.append(99) }
            cancelled.cancel()
            try await loop.sleep(for: .milliseconds(60))
            #expect(!late.isPending)
            return fired
        }.value
        #expect(fired == [1, 2, 3])
        await loop.shutdown()
        #expect(loop.closeResult == 0)
    }

    @Test func `a timer that reschedules itself without delay does not starve the loop`() async throws {
        let loop = try EventLoop()
        // A chain of zero-delay timers, bounded at 10,000 links; work posted meanwhile must run
        // after a few links, not after the chain (it used to run the whole chain in one pass).
        // Touched only on the loop thread.
        final class Chain: @unchecked Sendable {
            var links = 0
            var linksWhenOtherWorkRan = -1
        }
        let chain = Chain()
        let linksBeforeOtherWork = try await Task(executorPreference: loop.executor) { () -> Int in
            func link() {
                chain.links += 1
                // Posted from inside the chain: it can only run if the chain lets the loop go.
                if chain.links == 1 { loop.execute { chain.linksWhenOtherWorkRan = chain.links } }
                guard chain.links < 10_000, chain.linksWhenOtherWorkRan < 0 else { return }
                loop.schedule(after: .zero) { link() }
            }
            loop.schedule(after: .zero) { link() }
            try await loop.sleep(for: .milliseconds(20))
            while chain.linksWhenOtherWorkRan < 0 { try await loop.sleep(for: .milliseconds(5)) }
            return chain.linksWhenOtherWorkRan
        }.value
        #expect(linksBeforeOtherWork < 100)
        await loop.shutdown()
        #expect(loop.closeResult == 0)
    }

    @Test func `cancelled timers leave the queue at once and the rest fire in order`() async throws {
        let loop = try EventLoop()
        let (fired, expected, countsAfterCancel) = try await Task(executorPreference: loop.executor) {
            () -> ([Int], [Int], [Int]) in
            // Long timers, half cancelled in random order: the queue holds only the live half.
            var long = (0..<1000).map { n in loop.schedule(after: .seconds(60 + n % 7)) {} }
            long.shuffle()
            for timer in long.prefix(500) { timer.cancel() }
            let afterLong = loop.pendingTimerCount
            for timer in long.suffix(500) { timer.cancel() }
            let afterAll = loop.pendingTimerCount
            // Short timers with random deadlines, a random half cancelled: the others fire in
            // deadline order (the heap stays consistent through removals from its middle).
            var fired: [Int] = []
            var timers: [(deadline: Int, timer: ScheduledTimer)] = []
            for n in 0..<200 {
                let deadline = Int.random(in: 1...40) * 1000 + n  // distinct, ordered by ms then n
                timers.append((deadline, loop.schedule(after: .milliseconds(deadline / 1000)) { fired.append(deadline) }))
            }
            var expected: [Int] = []
            for (deadline, timer) in timers.shuffled() {
                if Bool.random() { timer.cancel() } else { expected.append(deadline) }
            }
            try await loop.sleep(for: .milliseconds(120))
            return (fired, expected.sorted(), [afterLong, afterAll])
        }.value
        #expect(countsAfterCancel == [500, 0])
        #expect(fired == expected)
        await loop.shutdown()
    }

    @Test func `objects that are their own timer fire in deadline order among closures, move in place and re-arm`() async throws {
        let loop = try EventLoop()
        let (fired, counts, slots) = try await Task(executorPreference: loop.executor) {
            () -> ([String], [Int], [Int]) in
            var fired: [String] = []
            let log: (String) -> Void = { fired.append($0) }
            let now = loop.nowMilliseconds
            let a = Target("a", log: log)
            let b = Target("b", log: log)
            let c = Target("c", log: log)
            loop.schedule(a, at: now + 30)
            loop.schedule(b, at: now + 10)
            loop.schedule(c, at: now + 50)
            loop.schedule(after: .milliseconds(20)) { log("closure") }
            let scheduled = loop.pendingTimerCount
            // Scheduling a pending target again moves it: no second entry.
            loop.schedule(a, at: now + 40)
            let afterMove = loop.pendingTimerCount
            loop.cancelTimer(of: c)
            let afterCancel = loop.pendingTimerCount
            // b re-arms itself once from its own timerFired.
            b.rearm = { loop.schedule(b, at: loop.nowMilliseconds + 35) }
            try await loop.sleep(for: .milliseconds(120))
            return (fired, [scheduled, afterMove, afterCancel, loop.pendingTimerCount], [a.timerQueueSlot, b.timerQueueSlot, c.timerQueueSlot])
        }.value
        #expect(fired == ["b", "closure", "a", "b"])
        #expect(counts == [4, 4, 3, 0])
        #expect(slots == [-1, -1, -1])
        await loop.shutdown()
    }

    @Test func `rescheduled timers move in place and fire in their new order`() async throws {
        let loop = try EventLoop()
        let (fired, expected, counts, lateResults) = try await Task(executorPreference: loop.executor) {
            () -> ([Int], [Int], [Int], [Bool]) in
            // 60 timers at distinct milliseconds, every other one moved to another free
            // millisecond, earlier or later, and one moved far out: each fires once, at its
            // deadline, in deadline order, and moving one never adds an entry.
            var fired: [Int] = []
            var free = Array(1...90).shuffled()
            var timers: [(id: Int, deadline: Int, timer: ScheduledTimer)] = []
            for id in 0..<60 {
                let deadline = free.removeLast()
                timers.append((id, deadline, loop.schedule(after: .milliseconds(deadline)) { fired.append(id) }))
            }
            let before = loop.pendingTimerCount
            for index in stride(from: 0, to: timers.count, by: 2) {
                let deadline = free.removeLast()
                #expect(timers[index].timer.reschedule(after: .milliseconds(deadline)))
                timers[index].deadline = deadline
            }
            #expect(timers[1].timer.reschedule(after: .seconds(60)))
            let after = loop.pendingTimerCount
            try await loop.sleep(for: .milliseconds(150))
            // A fired or cancelled timer stays as it is.
            let cancelled = loop.schedule(after: .seconds(60)) { fired.append(-1) }
            cancelled.cancel()
            let late = [timers[0].timer.reschedule(after: .zero), cancelled.reschedule(after: .zero)]
            try await loop.sleep(for: .milliseconds(20))
            let expected = timers.filter { $0.id != 1 }.sorted { $0.deadline < $1.deadline }.map(\.id)
            timers[1].timer.cancel()
            return (fired, expected, [before, after, loop.pendingTimerCount], late)
        }.value
        #expect(fired == expected)
        #expect(counts == [60, 60, 0])
        #expect(lateResults == [false, false])
        await loop.shutdown()
    }

    @Test func `cancelling a sleeping task throws cancellation promptly`() async throws {
        let loop = try EventLoop()
        let task = Task(executorPreference: loop.executor) { () -> Bool in
            do {
                try await loop.sleep(for: .seconds(60))
                return false
            } catch is CancellationError {
                return loop.inEventLoop
            } catch {
                return false
            }
        }
        try await Task.sleep(for: .milliseconds(20))
        task.cancel()
        #expect(await task.value == true)
        await loop.shutdown()
        #expect(loop.closeResult == 0)
    }

    @Test func `awaiting continuations resumed from loop callbacks never hops to the global executor`() async throws {
        rill_install_global_enqueue_counter()
        let loop = try EventLoop()
        loop.execute { rill_watch_current_thread_for_global_enqueues() }
        let count = try await Task(executorPreference: loop.executor) { () -> Int in
            for _ in 0..<200 {
                // A continuation resumed from a libuv timer callback, outside any task.
                await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                    loop.schedule(after: .zero) { continuation.resume() }
                }
                try await loop.sleep(for: .milliseconds(0))
            }
            return rill_global_enqueue_count()
        }.value
        #expect(count == 0)
        await loop.shutdown()
    }
}

@Suite struct GlobalEnqueueCounterTests {
    /// The control for the no-hop test: without the executor preference, a continuation resumed
    /// on the loop thread sends the task to the global pool, and the counter must see it.
    @Test func `the counter sees the hop of a task without loop preference`() async throws {
        rill_install_global_enqueue_counter()
        let loop = try EventLoop()
        await withCheckedContinuation { (ready: CheckedContinuation<Void, Never>) in
            loop.execute {
                rill_watch_current_thread_for_global_enqueues()
                ready.resume()
            }
        }
        let timer = UncheckedTimerStarter(loop: loop)
        for _ in 0..<20 {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                timer.resume(continuation)
            }
        }
        let count = await withCheckedContinuation { (result: CheckedContinuation<Int, Never>) in
            loop.execute { result.resume(returning: rill_global_enqueue_count()) }
        }
        #expect(count >= 20)
        await loop.shutdown()
    }
}

private struct UncheckedTimerStarter: @unchecked Sendable {
    let loop: EventLoop
    func resume(_ continuation: UnsafeContinuation<Void, Never>) {
        loop.execute { loop.schedule(after: .zero) { continuation.resume() } }
    }
}

/// Hands a loop and a flag to a raw pthread.
private final class LoopBox: Sendable {
    let loop: EventLoop
    /// Whether the thread took itself for the loop's (true until it answers).
    let seen = Atomic<Bool>(true)
    init(loop: EventLoop) { self.loop = loop }
}

/// A long-lived object that is its own timer entry, as a connection is.
private final class Target: TimerTarget {
    let name: String
    let log: (String) -> Void
    var timerQueueSlot = -1
    /// Called (once) when it fires.
    var rearm: (() -> Void)?

    init(_ name: String, log: @escaping (String) -> Void) {
        self.name = name
        self.log = log
    }

    func timerFired() {
        log(name)
        let rearm = self.rearm
        self.rearm = nil
        rearm?()
    }
}
