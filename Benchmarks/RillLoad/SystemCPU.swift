#if canImport(Glibc)
    import Glibc
#endif

/// The machine's CPU time from /proc/stat (all CPUs together), to tell whether something besides
/// the server and the harness used the cores during a measurement.
struct SystemCPU {
    /// Busy seconds: user + nice + system + irq + softirq (not idle, iowait or steal).
    var busy: Double
    /// Seconds the hypervisor ran something else while this VM wanted to run.
    var steal: Double

    static func now() -> SystemCPU? {
        guard let text = readSmallFile("/proc/stat"), let line = text.split(separator: "\n").first, line.hasPrefix("cpu ") else {
            return nil
        }
        let fields = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().compactMap { Double($0) }
        guard fields.count >= 8 else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        // user nice system idle iowait irq softirq steal …
        return SystemCPU(busy: (fields[0] + fields[1] + fields[2] + fields[5] + fields[6]) / ticks, steal: fields[7] / ticks)
    }
}
