import RillCore
import Testing

@Suite struct FreedMemoryPolicyTests {
    /// Feeds one sample (outside `#expect`, which cannot take a mutating call).
    func returns(_ policy: inout FreedMemoryPolicy, unused: Int) -> Bool {
        policy.shouldReturn(unusedBytes: unused)
    }

    @Test func `the first sample sets the base, and asks for a return if the threshold is unused`() {
        var quiet = FreedMemoryPolicy(thresholdBytes: 100)
        #expect(!returns(&quiet, unused: 99))
        #expect(quiet.baseUnusedBytes == 99)
        // Freed before sampling began: returned once; the level after it is the base.
        var policy = FreedMemoryPolicy(thresholdBytes: 100)
        #expect(returns(&policy, unused: 5_000))
        policy.didReturn(unusedBytes: 40)
        #expect(policy.baseUnusedBytes == 40)
        #expect(!returns(&policy, unused: 139))
    }

    @Test func `unused memory grown by the threshold since the last return asks for another`() {
        var policy = FreedMemoryPolicy(thresholdBytes: 100)
        _ = returns(&policy, unused: 10)
        #expect(!returns(&policy, unused: 109))  // one byte short
        #expect(returns(&policy, unused: 110))
        policy.didReturn(unusedBytes: 60)  // the trim could not give back 50 B
        // What the return could not give back does not ask again and again.
        #expect(!returns(&policy, unused: 60))
        #expect(!returns(&policy, unused: 159))
        #expect(returns(&policy, unused: 160))
    }

    @Test func `unused memory that falls on its own lowers the base`() {
        var policy = FreedMemoryPolicy(thresholdBytes: 100)
        _ = returns(&policy, unused: 80)
        #expect(!returns(&policy, unused: 20))  // reused by new work
        #expect(policy.baseUnusedBytes == 20)
        #expect(returns(&policy, unused: 120))  // and freed again
    }

    @Test func `steady unused memory never asks for a return`() {
        var policy = FreedMemoryPolicy(thresholdBytes: 1 << 20)
        _ = returns(&policy, unused: 512 << 10)
        for unused in [600 << 10, 900 << 10, 700 << 10, 1_400 << 10] {
            #expect(!returns(&policy, unused: unused))
        }
    }
}
