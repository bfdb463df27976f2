import Synchronization

/// The random numbers behind each stream's jittered `retry:` (and the like): SplitMix64 over one
/// process-wide counter, seeded once from the system's generator.
///
/// Jitter needs spread, not secrecy: the system generator costs a `getrandom` system call per
/// number, paid by every new event stream; this costs one atomic add, from any loop.
struct JitterRandomNumberGenerator: RandomNumberGenerator {
    /// Unused: a stored byte, so that the generator is not zero-sized. Passed `inout` (as
    /// `RandomNumberGenerator`s are), a zero-sized value's placeholder address made
    /// ThreadSanitizer's runtime fault in its access check (`make test-tsan` aborted here).
    private var nonZeroSize: UInt8 = 0
    /// SplitMix64's state, shared by every loop: each number takes the next step.
    private static let state: Atomic<UInt64> = {
        var system = SystemRandomNumberGenerator()
        return Atomic(system.next())
    }()

    mutating func next() -> UInt64 {
        // SplitMix64 (Steele, Lea, Flood 2014): a Weyl sequence through a 64-bit mixer.
        var z = Self.state.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
