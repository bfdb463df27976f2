import RillCore
import Testing

@Suite struct DurationMillisecondsTests {
    @Test func `whole milliseconds truncate and rounding up never comes out short`() {
        #expect(Duration.milliseconds(1500).wholeMilliseconds == 1500)
        #expect(Duration.milliseconds(1500).millisecondsRoundingUp == 1500)
        #expect(Duration.microseconds(1_999).wholeMilliseconds == 1)
        #expect(Duration.microseconds(1_999).millisecondsRoundingUp == 2)
        #expect(Duration.nanoseconds(1).wholeMilliseconds == 0)
        #expect(Duration.nanoseconds(1).millisecondsRoundingUp == 1)
        #expect(Duration.zero.millisecondsRoundingUp == 0)
    }

    @Test func `negative durations are zero and huge ones saturate`() {
        #expect(Duration.seconds(-3).wholeMilliseconds == 0)
        #expect(Duration.milliseconds(-1).millisecondsRoundingUp == 0)
        #expect(Duration.seconds(Int64.max).wholeMilliseconds == .max)
        #expect(Duration.seconds(Int64.max).millisecondsRoundingUp == .max)
        #expect(Duration.seconds(Int64.max / 1000).wholeMilliseconds == UInt64(Int64.max / 1000) * 1000)
    }
}
