/// The one place a `Duration` becomes a count of milliseconds (timers, timeouts, history ages),
/// or a floating-point number of seconds (metrics, jitter, clock leeway).
extension Duration {
    /// The duration in seconds, as a `Double` (sub-nanosecond precision is lost).
    package var secondsAsDouble: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// Whole milliseconds, truncated toward zero; 0 for a negative duration; saturating at
    /// `UInt64.max` for one too long to count (ages "forever").
    package var wholeMilliseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1000)
        guard !overflow else { return .max }
        let (total, overflowAdding) = whole.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000_000_000))
        return overflowAdding ? .max : total
    }

    /// Milliseconds rounded up, so that a timer set from it never fires early; 0 for a
    /// negative duration; saturating like ``wholeMilliseconds``.
    package var millisecondsRoundingUp: UInt64 {
        let whole = wholeMilliseconds
        guard whole < .max, components.attoseconds % 1_000_000_000_000_000 > 0 else { return whole }
        return whole + 1
    }
}
