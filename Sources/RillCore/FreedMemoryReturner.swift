internal import CLibUV

/// Decides when memory the process freed should go back to the kernel.
///
/// glibc's allocator keeps what a burst freed: pages inside an arena are returned only by
/// `malloc_trim`, and its dynamic thresholds grow with every large buffer freed, so after a
/// burst of connections, replays or large bodies the server's RSS stays at its high-water mark
/// while almost nothing is in use (measured in the soak: 14 MB in the loop's arena, 0.3 MB of it
/// in use). A return is worth its cost when both hold: the resident set grew by at least the
/// threshold since the last return (or the start), and the allocator holds at least the
/// threshold free — so memory that grew because it is in use is left alone, and steady memory
/// is not returned over and over. Pure: the returner feeds it samples.
package struct FreedMemoryPolicy: Sendable, Equatable {
    /// The growth, and the free amount, that make a return worth its cost.
    package let thresholdBytes: Int
    /// The resident set after the last return (or at the first sample), lowered whenever the
    /// resident set falls below it on its own.
    package private(set) var baseResidentBytes: Int?

    package init(thresholdBytes: Int) {
        precondition(thresholdBytes > 0, "thresholdBytes must be positive")
        self.thresholdBytes = thresholdBytes
    }

    /// Notes a sample; true when freed memory should be returned now (then report the resident
    /// set after it with ``didReturn(residentBytes:)``).
    package mutating func shouldReturn(freeBytes: Int, residentBytes: Int) -> Bool {
        guard let base = baseResidentBytes, residentBytes >= base else {
            baseResidentBytes = residentBytes
            return false
        }
        return freeBytes >= thresholdBytes && residentBytes - base >= thresholdBytes
    }

    /// Makes the resident set after a return the new base.
    package mutating func didReturn(residentBytes: Int) {
        baseResidentBytes = residentBytes
    }
}

/// Samples the process's resident set and the allocator's free memory on a loop every
/// `interval`, and gives freed memory back to the kernel when ``FreedMemoryPolicy`` says a burst
/// has left enough of it (glibc on Linux; elsewhere it does nothing). One per server;
/// loop-confined.
package final class FreedMemoryReturner {
    private let loop: EventLoop
    private let interval: Duration
    private var policy: FreedMemoryPolicy
    private var timer: ScheduledTimer?
    /// How many times free memory was given back.
    package private(set) var returnCount = 0
    /// Called after each return with the resident bytes before and after it (for a log line).
    package var onReturn: ((_ residentBytesBefore: Int, _ residentBytesAfter: Int) -> Void)?

    /// Starts sampling. Call on the loop thread.
    package init(loop: EventLoop, interval: Duration, thresholdBytes: Int) {
        self.loop = loop
        self.interval = interval
        policy = FreedMemoryPolicy(thresholdBytes: thresholdBytes)
        guard Self.freeBytes >= 0, Self.residentBytes >= 0 else { return }
        _ = policy.shouldReturn(freeBytes: Self.freeBytes, residentBytes: Self.residentBytes)
        scheduleSample()
    }

    /// The allocator's free bytes now (resident or not), or -1 where unknown.
    package static var freeBytes: Int { Int(rill_allocator_free_bytes()) }

    /// The process's resident set now, or -1 where unknown.
    package static var residentBytes: Int { Int(rill_resident_bytes()) }

    /// Returns free memory now, whatever the policy says. True if any was released.
    @discardableResult
    package static func returnFreeMemory() -> Bool { rill_allocator_release_free_memory() == 1 }

    /// Stops sampling.
    package func stop() {
        timer?.cancel()
        timer = nil
    }

    private func scheduleSample() {
        timer = loop.schedule(after: interval) { [weak self] in self?.sample() }
    }

    private func sample() {
        let resident = Self.residentBytes
        if policy.shouldReturn(freeBytes: Self.freeBytes, residentBytes: resident) {
            Self.returnFreeMemory()
            let after = Self.residentBytes
            policy.didReturn(residentBytes: after)
            returnCount += 1
            onReturn?(resident, after)
        }
        scheduleSample()
    }
}
