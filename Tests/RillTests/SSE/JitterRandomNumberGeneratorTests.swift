import RillSSE
import Testing

@testable import Rill

/// The generator behind `retry:` jitter: spread evenly, different on every call and on every
/// loop, with no system call per number.
struct JitterRandomNumberGeneratorTests {
    @Test func `numbers are spread evenly and do not repeat`() {
        var generator = JitterRandomNumberGenerator()
        let samples = (0..<20_000).map { _ in Double.random(in: 0..<1, using: &generator) }
        let bins = Dictionary(grouping: samples) { Int($0 * 10) }.mapValues(\.count)
        #expect(bins.count == 10)
        #expect(bins.values.allSatisfy { (1_700...2_300).contains($0) }, "\(bins.sorted { $0.key < $1.key })")
        var raw = JitterRandomNumberGenerator()
        let words = (0..<10_000).map { _ in raw.next() }
        #expect(Set(words).count == words.count)
        // Every bit flips about half the time.
        for bit in [0, 17, 31, 47, 63] {
            let ones = words.count { $0 & (1 << UInt64(bit)) != 0 }
            #expect((4_500...5_500).contains(ones), "bit \(bit): \(ones)")
        }
    }

    @Test func `the configured retry is spread with it`() {
        var generator = JitterRandomNumberGenerator()
        let configuration = EventStreamConfiguration(retry: .seconds(3))
        let values = (0..<1_000).compactMap { _ in configuration.jitteredRetry(using: &generator) }
        #expect(values.allSatisfy { $0 >= .milliseconds(2_250) && $0 <= .milliseconds(3_750) })
        #expect(Set(values).count > 500)
    }

    @Test func `a stream's opening fields are what the event encoder writes for them`() throws {
        for milliseconds: Int64? in [nil, 0, 1, 9, 10, 999, 1_000, 1_500, 2_005, 60_000, 123_456_789, .max] {
            for id: String? in [nil, "", "~0", "~1234", "~1700000000000-3", "~18446744073709551615-18446744073709551615"] {
                guard id != nil || milliseconds != nil else { continue }
                let formatted = EventStreamWriter.withOpeningFields(id: id, retryMilliseconds: milliseconds) { Array($0) }
                // Without retry the block starts with the opening comment (the encoder would write
                // it with a space after the colon).
                let encoded =
                    (milliseconds == nil ? Array(":ok\n".utf8) : [])
                    + (try ServerSentEvent(id: id, retry: milliseconds.map { .milliseconds($0) }).encoded())
                #expect(formatted == encoded, "\(String(describing: id)) \(String(describing: milliseconds))")
            }
        }
        var generator = JitterRandomNumberGenerator()
        let configuration = EventStreamConfiguration(retry: .milliseconds(1_500), retryJitter: 0)
        #expect(configuration.jitteredRetryMilliseconds(using: &generator) == 1_500)
        #expect(EventStreamConfiguration(retry: nil).jitteredRetryMilliseconds(using: &generator) == nil)
    }
}
