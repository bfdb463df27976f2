import Rill
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Publishes into one `InMemoryBroker` from several event loops at once, with no subscribers:
/// what is measured is the part of a publish all loops share — the broker's one lock, the
/// sequence, the history append and trim — and how it scales with the number of publishers.
///
/// The broker spans `threads` loops (a server with that many loops); each loop publishes
/// ``publishesPerThread`` events one after another from a closure run on its thread
/// (`EventLoop.execute`), so a round is bounded and every publish is `publishOnLoop` from a
/// loop of the broker, as a handler's would be. The default ``BrokerConfiguration`` (history on:
/// 1,000 events per channel), the event of the fan-out benchmark with a broker-assigned id (so
/// it is encoded under the lock, like most publishes), and:
/// - ``Channels/own``: loop *i* publishes to channel `publish-i` (no two loops share a channel's
///   history; they still share the lock, the sequence, the channel table and the history budget);
/// - ``Channels/shared``: every loop publishes to channel `publish` (one history for all).
///
/// Besides the wall clock, each loop thread reads its own CPU time
/// (`CLOCK_THREAD_CPUTIME_ID`) and context switches (`getrusage(RUSAGE_THREAD)`) around its
/// publishes. The broker's lock is a `Synchronization.Mutex` (on Linux a PI futex: a contended
/// `lock` spins 1,000 `pause`s, then sleeps in `FUTEX_LOCK_PI`, and an unlock with sleepers
/// hands the lock to one of them in the kernel), so contention shows as CPU time per publish
/// above the one-thread figure (spinning, futex calls) and as voluntary context switches:
/// sleeps on the lock (a publishing loop waits for nothing else, bar malloc's own locks).
/// Involuntary switches count preemptions: more publishing threads than cores, or other
/// processes.
public final class PublishContentionWorkload: @unchecked Sendable {
    public enum Channels: Sendable {
        case own
        case shared
    }

    /// Publishes per loop in one round.
    public static let publishesPerThread = 5_000
    /// The fan-out benchmark's event: broker-assigned id, an event type, a small JSON payload.
    public static let event = ServerSentEvent(data: #"{"message":"hello","from":"ada"}"#, event: "notify")

    /// What one publishing thread measured in a round.
    public struct ThreadFigures: Sendable {
        /// `CLOCK_MONOTONIC` at its first publish and after its last.
        public var start: UInt64 = 0
        public var end: UInt64 = 0
        /// The thread's CPU time (user + system) over its publishes.
        public var cpuNanoseconds: UInt64 = 0
        public var voluntarySwitches = 0
        public var involuntarySwitches = 0
    }

    /// One round: every loop published ``publishesPerThread`` events.
    public struct Round: Sendable {
        public let threads: [ThreadFigures]
        public var publishes: Int { threads.count * PublishContentionWorkload.publishesPerThread }
        /// From the first publish of any loop to the last publish of any loop.
        public var wallNanoseconds: UInt64 {
            (threads.map(\.end).max() ?? 0) - (threads.map(\.start).min() ?? 0)
        }
        /// Wall time per publish, all loops together (1 / throughput).
        public var wallNanosecondsPerPublish: Int { Int(wallNanoseconds) / publishes }
        /// Publishes per second, all loops together.
        public var publishesPerSecond: Int { Int(Double(publishes) * 1e9 / Double(max(wallNanoseconds, 1))) }
        /// What one publish takes as its publisher sees it: each loop's own span divided by its
        /// publishes, averaged over the loops (includes waiting for the lock and for a core).
        public var publisherNanosecondsPerPublish: Int {
            let spans = threads.reduce(0) { $0 + Int($1.end - $1.start) }
            return spans / publishes
        }
        /// CPU time (user + system) of the publishing threads per publish.
        public var cpuNanosecondsPerPublish: Int { Int(threads.reduce(0) { $0 + $1.cpuNanoseconds }) / publishes }
        /// Voluntary context switches per 100,000 publishes: sleeps on the broker's lock.
        public var lockSleepsPer100k: Int { threads.reduce(0) { $0 + $1.voluntarySwitches } * 100_000 / publishes }
        /// Involuntary context switches per 100,000 publishes: preemptions.
        public var preemptionsPer100k: Int { threads.reduce(0) { $0 + $1.involuntarySwitches } * 100_000 / publishes }
    }

    public let loops: [EventLoop]
    public let broker: InMemoryBroker
    public let channels: Channels
    private let channelNames: [String]

    private struct Pending {
        var figures: [ThreadFigures]
        var remaining = 0
        var continuation: CheckedContinuation<Round, Never>?
    }
    private let pending: Mutex<Pending>

    private init(loops: [EventLoop], channels: Channels) {
        self.loops = loops
        self.channels = channels
        broker = InMemoryBroker(eventLoops: loops, configuration: BrokerConfiguration())
        channelNames = loops.indices.map { channels == .own ? "publish-\($0)" : "publish" }
        pending = Mutex(Pending(figures: Array(repeating: ThreadFigures(), count: loops.count)))
    }

    /// Starts `threads` loops and a broker over them, then runs one round, which fills every
    /// history to its 1,000 events (so that every measured publish also trims one), and checks
    /// that the broker counted every publish.
    public static func start(threads: Int, channels: Channels) async throws -> PublishContentionWorkload {
        precondition(threads >= 1)
        var loops: [EventLoop] = []
        for index in 0..<threads { loops.append(try EventLoop(name: "rill-micro-pub-\(index)")) }
        let workload = PublishContentionWorkload(loops: loops, channels: channels)
        _ = await workload.round()
        let published = await workload.broker.statistics().publishedEventCount
        precondition(published == threads * publishesPerThread, "the broker counted \(published) publishes")
        return workload
    }

    /// Every loop publishes ``publishesPerThread`` events at once; returns when all are done.
    public func round() async -> Round {
        await withCheckedContinuation { continuation in
            pending.withLock { pending in
                pending.remaining = loops.count
                pending.continuation = continuation
            }
            for (index, loop) in loops.enumerated() {
                let queued = loop.execute { [self] in publish(on: index) }
                precondition(queued, "loop \(index) refused the round")
            }
        }
    }

    /// On loop `index`: its publishes, timed and with its thread's resource usage around them.
    private func publish(on index: Int) {
        let channel = channelNames[index]
        let event = Self.event
        let before = Self.threadUsage()
        let cpuBefore = Self.nanoseconds(CLOCK_THREAD_CPUTIME_ID)
        let start = Self.nanoseconds(CLOCK_MONOTONIC)
        do {
            for _ in 0..<Self.publishesPerThread {
                let receipt = try broker.publishOnLoop(event, to: channel)
                if receipt.subscriberCount != 0 { preconditionFailure("a publish reached a subscriber") }
            }
        } catch {
            fatalError("publish failed: \(error)")
        }
        let end = Self.nanoseconds(CLOCK_MONOTONIC)
        let cpuAfter = Self.nanoseconds(CLOCK_THREAD_CPUTIME_ID)
        let after = Self.threadUsage()
        let figures = ThreadFigures(
            start: start, end: end, cpuNanoseconds: cpuAfter - cpuBefore, voluntarySwitches: after.ru_nvcsw - before.ru_nvcsw,
            involuntarySwitches: after.ru_nivcsw - before.ru_nivcsw)
        let finished = pending.withLock { pending -> (CheckedContinuation<Round, Never>, Round)? in
            pending.figures[index] = figures
            pending.remaining -= 1
            guard pending.remaining == 0, let continuation = pending.continuation else { return nil }
            pending.continuation = nil
            return (continuation, Round(threads: pending.figures))
        }
        if let (continuation, round) = finished { continuation.resume(returning: round) }
    }

    /// Publishes `count` events from the first loop, one hop there and back (run.sh
    /// --instructions counts one publish with it, outside package-benchmark).
    public func publishFromFirstLoop(count: Int) async throws -> Int {
        let channel = channelNames[0]
        return try await Task(executorPreference: loops[0].executor) { [self] in
            var ids = 0
            for _ in 0..<count { ids += try broker.publishOnLoop(Self.event, to: channel).id.utf8.count }
            return ids
        }.value
    }

    /// Stops the loops.
    public func shutdown() async {
        for loop in loops { await loop.shutdown() }
    }

    /// The calling thread's context switches (its CPU times there are tick-sampled: the CPU
    /// time comes from `CLOCK_THREAD_CPUTIME_ID` instead).
    private static func threadUsage() -> rusage {
        var usage = rusage()
        // RUSAGE_THREAD (1): Glibc's module imports the name only under _GNU_SOURCE.
        getrusage(1, &usage)
        return usage
    }

    private static func nanoseconds(_ clock: clockid_t) -> UInt64 {
        var now = timespec()
        clock_gettime(clock, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
