#if canImport(Glibc)
    import Glibc
#endif

/// Reads another process's memory and CPU time from /proc (Linux).
struct ProcessProbe {
    let pid: Int32

    /// Resident set size in bytes (`VmRSS` of /proc/PID/status), nil when unreadable.
    func residentBytes() -> Int? {
        guard let text = readSmallFile("/proc/\(pid)/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let kilobytes = Int(fields[1]) else { return nil }
            return kilobytes * 1024
        }
        return nil
    }

    /// User plus system CPU seconds (`utime` + `stime` of /proc/PID/stat), nil when unreadable.
    func cpuSeconds() -> Double? { Self.cpuSeconds(statPath: "/proc/\(pid)/stat") }

    /// What one of the server's event loop threads has used so far.
    struct LoopThreadSample {
        /// `utime` + `stime` of its /proc/PID/task/TID/stat.
        var cpuSeconds: Double
        /// Its write system calls (`syscw` of /proc/PID/task/TID/io: write, writev, send…), nil
        /// when that file is unreadable.
        var writeCalls: Int?

        /// The write calls made since `start`, nil when either count is missing.
        func writeCalls(since start: LoopThreadSample) -> Int? {
            guard let writeCalls, let earlier = start.writeCalls else { return nil }
            return writeCalls - earlier
        }
    }

    /// The CPU seconds and write calls so far of each of the server's event loop threads, the
    /// threads named `rill-loop-N` (/proc/PID/task/TID/comm, stat and io), at index N; empty
    /// when it has none (another server) or /proc is unreadable. Their CPU is part of
    /// ``cpuSeconds()``: the rest is the process's other threads.
    func loopThreadSamples() -> [LoopThreadSample] {
        let tasks = "/proc/\(pid)/task"
        guard let directory = opendir(tasks) else { return [] }
        defer { closedir(directory) }
        var byLoop: [Int: LoopThreadSample] = [:]
        while let entry = readdir(directory) {
            let tid = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let name = readSmallFile("\(tasks)/\(tid)/comm"), name.hasPrefix("rill-loop-"),
                let index = Int(name.dropFirst("rill-loop-".count).prefix { $0.isNumber }),
                let seconds = Self.cpuSeconds(statPath: "\(tasks)/\(tid)/stat")
            else { continue }
            byLoop[index] = LoopThreadSample(cpuSeconds: seconds, writeCalls: Self.writeCalls(ioPath: "\(tasks)/\(tid)/io"))
        }
        guard let last = byLoop.keys.max() else { return [] }
        return (0...last).map { byLoop[$0] ?? LoopThreadSample(cpuSeconds: 0, writeCalls: nil) }
    }

    /// `syscw` of a /proc io file (a process's or one thread's): its write system calls so far.
    private static func writeCalls(ioPath: String) -> Int? {
        guard let text = readSmallFile(ioPath) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("syscw:") {
            return Int(line.dropFirst("syscw:".count).drop { $0 == " " })
        }
        return nil
    }

    /// `utime` + `stime` of a /proc stat file (a process's or one thread's), in seconds.
    private static func cpuSeconds(statPath: String) -> Double? {
        guard let text = readSmallFile(statPath), let paren = text.lastIndex(of: ")") else { return nil }
        // After "pid (comm)": state is field 3, utime field 14, stime field 15.
        let fields = text[text.index(after: paren)...].split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

/// This process's user plus system CPU seconds so far.
func ownCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
    func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1_000_000 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit now in force.
func raiseOpenFileLimit() -> Int {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
    return limit.rlim_cur > UInt(Int.max) ? Int.max : Int(limit.rlim_cur)
}

/// Monotonic time in microseconds.
func monotonicMicroseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000 + UInt64(time.tv_nsec) / 1_000
}

/// The whole content of a small file such as /proc/PID/status (at most 64 KiB).
func readSmallFile(_ path: String, limit: Int = 65_536) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while bytes.count < limit {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count <= 0 { break }
        bytes.append(contentsOf: chunk[0..<count])
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Writes `text` to stderr with one `write(2)` (no stdio buffering, no shared `FILE *`).
func writeToStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}
