#if canImport(Glibc)
    import Glibc
#endif

/// The process's limit on open file descriptors (`RLIMIT_NOFILE`); every connection holds one.
public enum OpenFileLimit {
    /// Raises the soft limit to the hard one, as far as the kernel allows (the hard limit, or
    /// `fs.nr_open` when the hard limit is unlimited), and returns the soft limit in force
    /// afterwards; nil when it is unlimited or cannot be read. Never lowers it.
    @discardableResult
    public static func raiseSoftLimitToHardLimit() -> Int? {
        var limits = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 else { return nil }
        if limits.rlim_cur < limits.rlim_max {
            var raised = limits
            raised.rlim_cur = limits.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 {
                limits = raised
            } else if limits.rlim_max == rlim_t.max {
                // Linux refuses more than fs.nr_open; 1,048,576 is its default.
                raised.rlim_cur = max(limits.rlim_cur, 1_048_576)
                if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limits = raised }
            }
        }
        return limits.rlim_cur == rlim_t.max ? nil : Int(clamping: limits.rlim_cur)
    }

    /// Descriptors a server keeps out of its connections' share of the limit for the process's
    /// own: standard streams, signal and timer descriptors, a broker's connections, log files
    /// (16).
    public static let reservedDescriptorCount = 16
    /// Descriptors each event loop holds (8; 7 measured: its epoll and eventfd descriptors, a
    /// signal pipe's two ends, its listener, and two spare descriptors for running out).
    public static let descriptorsPerLoop = 8
    /// Refused connections that may start lingering (for their 503 to be read) per linger
    /// period, all loops together (32).
    public static let lingeringRefusalsPerPeriod = 32
    /// One loop's share of ``lingeringRefusalsPerPeriod``: at least 1.
    public static func lingeringRefusalsPerPeriod(loopCount: Int) -> Int { max(1, lingeringRefusalsPerPeriod / max(1, loopCount)) }
    /// Refused connections that may linger at once, all loops together: each lingers at most one
    /// period, so two periods' worth — 64, or 2 per loop past 32 loops (each loop's share is at
    /// least one).
    public static func lingeringRefusalCount(loopCount: Int) -> Int { max(2 * lingeringRefusalsPerPeriod, 2 * loopCount) }

    /// What a server of `loopCount` loops keeps out of its connections' share of the limit:
    /// ``reservedDescriptorCount``, ``descriptorsPerLoop`` per loop, and the refused
    /// connections that may linger (80 + 8 per loop up to 32 loops).
    public static func reservedDescriptors(loopCount: Int) -> Int {
        reservedDescriptorCount + descriptorsPerLoop * loopCount + lingeringRefusalCount(loopCount: loopCount)
    }

    /// The most connections that fit under `openFileLimit` next to `reservedDescriptors`: the
    /// smaller of `configured` and the limit less the reserve, at least 1; `configured` when
    /// the limit is unknown or unlimited (nil).
    public static func connectionCap(configured: Int, openFileLimit: Int?, reservedDescriptors: Int) -> Int {
        guard let openFileLimit else { return configured }
        return min(configured, max(1, openFileLimit - reservedDescriptors))
    }

    /// The soft limit now; nil when unlimited or unknown.
    public static var softLimit: Int? {
        var limits = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0, limits.rlim_cur != rlim_t.max else { return nil }
        return Int(clamping: limits.rlim_cur)
    }
}
