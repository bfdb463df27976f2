internal import CLibUV

/// Decides when memory the process freed should go back to the kernel.
///
/// glibc's allocator keeps what a burst freed: pages inside an arena are returned only by
/// `malloc_trim`, and its dynamic thresholds grow with every large buffer freed, so after a
/// burst of connections, replays or large bodies the server's RSS stays at its high-water mark
/// while almost nothing is in use (measured in the soak: 14 MB in the loop's arena, 0.3 MB of it
/// in use). The policy watches *unused resident* memory: the process's resident anonymous
/// memory less what the allocator has handed out. It asks for a return when that grew by the
/// threshold since the last return — memory freed and still resident — and never for memory
/// that grew because it is in use. The level a return leaves (thread stacks, pages the trim
/// could not release) is the base the next growth is measured from. Pure: the returner feeds
/// it samples.
package struct FreedMemoryPolicy: Sendable, Equatable {
    /// The growth of unused resident memory that makes a return worth its cost.
    package let thresholdBytes: Int
    /// Unused resident bytes after the last return (or at the first sample), lowered whenever
    /// the level falls below it on its own.
    package private(set) var baseUnusedBytes: Int?

    package init(thresholdBytes: Int) {
        precondition(thresholdBytes > 0, "thresholdBytes must be positive")
        self.thresholdBytes = thresholdBytes
    }

    /// Notes a sample of unused resident bytes; true when freed memory should be returned now
    /// (then report the level after it with ``didReturn(unusedBytes:)``).
    ///
    /// The first sample asks for a return when the threshold is unused: what was freed before
    /// sampling began (start-up work, an earlier server in the process) must not be the base.
    package mutating func shouldReturn(unusedBytes: Int) -> Bool {
        guard let base = baseUnusedBytes else {
            baseUnusedBytes = unusedBytes
            return unusedBytes >= thresholdBytes
        }
        guard unusedBytes >= base else {
            baseUnusedBytes = unusedBytes
            return false
        }
        return unusedBytes - base >= thresholdBytes
    }

    /// Makes the unused resident level after a return the new base.
    package mutating func didReturn(unusedBytes: Int) {
        baseUnusedBytes = unusedBytes
    }
}

/// Samples the process's unused resident memory on a loop every `interval`, and gives freed
/// memory back to the kernel when ``FreedMemoryPolicy`` says a burst has left enough of it
/// (glibc on Linux; elsewhere it does nothing). One per server; loop-confined.
package final class FreedMemoryReturner {
    private let loop: EventLoop
    private let interval: Duration
    private var policy: FreedMemoryPolicy
    private var timer: ScheduledTimer?
    /// How many times free memory was given back.
    package private(set) var returnCount = 0
    /// Called after each return with the unused resident bytes before and after it (a log line).
    private let onReturn: (_ unusedBytesBefore: Int, _ unusedBytesAfter: Int) -> Void

    /// Starts sampling with a first sample now (where the figures are unknown, it never
    /// samples). Call on the loop thread.
    package init(
        loop: EventLoop, interval: Duration, thresholdBytes: Int,
        onReturn: @escaping (_ unusedBytesBefore: Int, _ unusedBytesAfter: Int) -> Void = { _, _ in }
    ) {
        self.loop = loop
        self.interval = interval
        self.onReturn = onReturn
        policy = FreedMemoryPolicy(thresholdBytes: thresholdBytes)
        sample()
    }

    /// Resident anonymous memory the allocator has not handed out (free pages it keeps, plus
    /// thread stacks and other anonymous mappings); nil where unknown.
    package static var unusedResidentBytes: Int? {
        let resident = rill_resident_anonymous_bytes()
        let inUse = rill_allocator_in_use_bytes()
        guard resident >= 0, inUse >= 0 else { return nil }
        return Int(max(0, resident - inUse))
    }

    /// Returns free memory now, whatever the policy says. True if any was released.
    @discardableResult
    package static func returnFreeMemory() -> Bool { rill_allocator_release_free_memory() == 1 }

    /// Stops sampling.
    package func stop() {
        timer?.cancel()
        timer = nil
    }

    private func sample() {
        guard let unused = Self.unusedResidentBytes else { return }  // not Linux/glibc: nothing to do
        if policy.shouldReturn(unusedBytes: unused) {
            Self.returnFreeMemory()
            let after = Self.unusedResidentBytes ?? 0
            policy.didReturn(unusedBytes: after)
            returnCount += 1
            onReturn(unused, after)
        }
        timer = loop.schedule(after: interval) { [weak self] in self?.sample() }
    }
}
