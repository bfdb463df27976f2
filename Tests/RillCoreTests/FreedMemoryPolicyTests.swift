import RillCore
import Testing

@Suite struct FreedMemoryPolicyTests {
    /// Feeds one sample (outside `#expect`, which cannot take a mutating call).
    func returns(_ policy: inout FreedMemoryPolicy, free: Int, resident: Int) -> Bool {
        policy.shouldReturn(freeBytes: free, residentBytes: resident)
    }

    @Test func `the first sample only sets the base`() {
        var policy = FreedMemoryPolicy(thresholdBytes: 100)
        #expect(!returns(&policy, free: 1_000_000, resident: 5_000))
        #expect(policy.baseResidentBytes == 5_000)
    }

    @Test func `a resident set grown by the threshold with as much free asks for a return`() {
        var policy = FreedMemoryPolicy(thresholdBytes: 100)
        _ = returns(&policy, free: 0, resident: 1_000)
        #expect(!returns(&policy, free: 500, resident: 1_099))  // grown one byte short
        #expect(!returns(&policy, free: 99, resident: 1_500))  // grown, but in use: 99 B free
        #expect(returns(&policy, free: 100, resident: 1_100))
        policy.didReturn(residentBytes: 1_010)
        #expect(policy.baseResidentBytes == 1_010)
        // Free memory the return could not give back does not ask again and again.
        #expect(!returns(&policy, free: 400, resident: 1_010))
    }

    @Test func `memory in use that grows is left alone until it is freed`() {
        var policy = FreedMemoryPolicy(thresholdBytes: 100)
        _ = returns(&policy, free: 10, resident: 1_000)
        #expect(!returns(&policy, free: 10, resident: 5_000))  // 4,000 B more in use
        #expect(returns(&policy, free: 4_000, resident: 5_000))  // then freed
    }

    @Test func `a resident set that falls on its own lowers the base`() {
        var policy = FreedMemoryPolicy(thresholdBytes: 100)
        _ = returns(&policy, free: 0, resident: 1_000)
        #expect(!returns(&policy, free: 0, resident: 800))
        #expect(policy.baseResidentBytes == 800)
        #expect(returns(&policy, free: 150, resident: 950))
    }

    @Test func `steady memory never asks for a return`() {
        var policy = FreedMemoryPolicy(thresholdBytes: 4 << 20)
        for resident in [30 << 20, 31 << 20, 32 << 20, 33 << 20, 30 << 20] {
            #expect(!returns(&policy, free: 10 << 20, resident: resident))
        }
    }
}
