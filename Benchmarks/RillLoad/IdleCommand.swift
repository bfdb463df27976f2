import ArgumentParser
import Histogram
import RillCore

#if canImport(Glibc)
    import Glibc
#endif

/// `rill-load idle`: N idle streams held for D seconds.
struct IdleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idle",
        abstract: "Open N event streams, hold them D seconds, report alive streams, server RSS per stream and idle CPU.",
        discussion: """
            A stream is alive at the end when it got '200' with 'text/event-stream', the server \
            has not closed or ended it, and, when --expect-heartbeat is set and the hold is \
            longer than that interval, at least one body chunk arrived during the hold. With \
            --server-pid the server's VmRSS is sampled before connecting and at the end of the \
            hold (RSS per stream = difference / alive), and its CPU time over the hold only.
            """)

    @OptionGroup var connection: ConnectionOptions

    @Option(name: [.customShort("d"), .long], help: "Seconds to hold the streams once the ramp is done.")
    var duration: Double

    @Option(help: "The server's heartbeat interval in seconds; streams silent for the whole hold are then not alive (0: expect nothing).")
    var expectHeartbeat: Double = 0

    func validate() throws {
        guard duration > 0, duration <= 86_400 else { throw ValidationError("-d must be in (0, 86400]") }
        guard expectHeartbeat >= 0 else { throw ValidationError("--expect-heartbeat must be >= 0") }
    }

    func run() async throws {
        let target = try TargetURL(connection.url)
        let fileLimit = raiseOpenFileLimit()
        guard connection.connections + 32 <= fileLimit else {
            throw ValidationError("-c \(connection.connections) needs about \(connection.connections + 32) open files; the limit is \(fileLimit)")
        }
        guard let address = try TCPConnector.resolve(host: target.host, port: target.port).first else {
            throw ValidationError("cannot resolve \(target.host)")
        }
        let loop = try EventLoop(name: "rill-load")
        let driver = try LoadDriver(loop: loop, address: address, target: target, options: connection, mode: "idle")
        let hold = duration
        let heartbeat = expectHeartbeat
        let report = await Task(executorPreference: loop.executor) {
            await IdleRun(driver: driver, hold: hold, expectHeartbeat: heartbeat).run()
        }.value
        await loop.shutdown()
        print(report.summary(target: connection.url))
        print("  \(connection.protocolFields)")
        print(report.resultLine + " " + connection.protocolFields)
    }
}

/// The idle scenario on the loop: sample, ramp, hold, sample, judge, tear down.
struct IdleRun {
    let driver: LoadDriver
    let hold: Double
    let expectHeartbeat: Double

    func run() async -> IdleReport {
        let probe = driver.serverProbe
        let rssBefore = probe?.residentBytes()
        let kernelBefore = KernelMemory.sample()
        let startCPU = ownCPUSeconds()

        await driver.openAll()

        // The hold: only the server's idle cost is measured from here.
        driver.setPhase("hold")
        for client in driver.clients {
            client.bodyBytesAtHoldStart = client.bodyBytes
            client.commentsAtHoldStart = client.comments
        }
        let serverCPUStart = probe?.cpuSeconds()
        let holdStart = monotonicMicroseconds()
        try? await driver.loop.sleep(for: .milliseconds(Int64(hold * 1000)))
        let holdSeconds = Double(monotonicMicroseconds() - holdStart) / 1_000_000
        let serverCPUEnd = probe?.cpuSeconds()
        let rssEnd = probe?.residentBytes()
        let kernelEnd = KernelMemory.sample()
        let harnessCPU = ownCPUSeconds() - startCPU

        let requireChunk = expectHeartbeat > 0 && hold > expectHeartbeat
        var alive = 0
        var open = 0
        var silent = 0
        var heartbeats = 0
        var bodyBytes = 0
        for client in driver.clients {
            bodyBytes += client.bodyBytes
            guard client.phase == .streaming else { continue }
            open += 1
            heartbeats += client.comments - client.commentsAtHoldStart
            if requireChunk && client.bodyBytes == client.bodyBytesAtHoldStart {
                silent += 1
                continue
            }
            alive += 1
        }
        let report = IdleReport(
            connections: driver.clients.count, opened: driver.openCount, open: open, alive: alive, silent: silent,
            failed: driver.failedCount, closedByServer: driver.closedByServerCount, retries: driver.retryCount,
            failureReasons: driver.failureReasons, heartbeatsDuringHold: heartbeats, bodyBytes: bodyBytes,
            rssBefore: rssBefore, rssEnd: rssEnd, kernelBefore: kernelBefore, kernelEnd: kernelEnd,
            serverCPUIdle: serverCPUStart.flatMap { start in serverCPUEnd.map { $0 - start } },
            harnessCPU: harnessCPU, holdSeconds: holdSeconds, rampSeconds: driver.rampSeconds,
            openP50Milliseconds: Double(driver.timeToOpen.valueAtPercentile(50)) / 1000,
            openP99Milliseconds: Double(driver.timeToOpen.valueAtPercentile(99)) / 1000,
            openMaxMilliseconds: Double(driver.timeToOpen.max) / 1000,
            expectHeartbeat: expectHeartbeat, requireChunk: requireChunk)
        await driver.closeAll()
        return report
    }
}

struct IdleReport: Sendable {
    var connections: Int
    var opened: Int
    /// Streams still open at the end of the hold (alive or silent).
    var open: Int
    var alive: Int
    var silent: Int
    var failed: Int
    var closedByServer: Int
    var retries: Int
    var failureReasons: [String: Int]
    var heartbeatsDuringHold: Int
    var bodyBytes: Int
    var rssBefore: Int?
    var rssEnd: Int?
    /// The kernel's socket memory before connecting and at the end of the hold.
    var kernelBefore: KernelMemory
    var kernelEnd: KernelMemory
    var serverCPUIdle: Double?
    var harnessCPU: Double
    var holdSeconds: Double
    var rampSeconds: Double
    var openP50Milliseconds: Double
    var openP99Milliseconds: Double
    var openMaxMilliseconds: Double
    var expectHeartbeat: Double
    var requireChunk: Bool

    var rssPerConnection: Int? {
        guard let rssBefore, let rssEnd, alive > 0 else { return nil }
        return (rssEnd - rssBefore) / alive
    }

    /// RSS growth per stream still open at the end, alive or not (equals the per-alive figure
    /// when every open stream is alive).
    var rssPerOpenConnection: Int? {
        guard let rssBefore, let rssEnd, open > 0 else { return nil }
        return (rssEnd - rssBefore) / open
    }

    /// Kernel slab bytes per socket: the growth over the streams still open, counting both of
    /// each one's ends (client and server are both on this machine).
    var kernelSlabBytesPerSocket: Int? {
        guard let before = kernelBefore.socketSlabBytes, let end = kernelEnd.socketSlabBytes, open > 0 else { return nil }
        return (end - before) / (2 * open)
    }

    /// Growth of the pages in TCP socket buffers (both ends) over the run.
    var tcpBufferPagesGrowth: Int? {
        guard let before = kernelBefore.tcpBufferPages, let end = kernelEnd.tcpBufferPages else { return nil }
        return end - before
    }

    var resultLine: String {
        let rss = rssPerConnection.map(String.init) ?? "NA"
        let rssOpen = rssPerOpenConnection.map(String.init) ?? "NA"
        let cpu = serverCPUIdle.map { format($0, 2) } ?? "NA"
        var line = "RESULT mode=idle connections=\(connections) alive=\(alive) rss_per_conn_bytes=\(rss)"
        line += " server_cpu_idle_s=\(cpu) harness_cpu_s=\(format(harnessCPU, 2)) duration_s=\(format(holdSeconds, 1))"
        line += " open=\(open) rss_per_open_conn_bytes=\(rssOpen)"
        line += " failed=\(failed) closed_by_server=\(closedByServer) silent=\(silent) retries=\(retries)"
        line += " heartbeats=\(heartbeatsDuringHold) ramp_s=\(format(rampSeconds, 1))"
        line += " open_p50_ms=\(format(openP50Milliseconds, 2)) open_p99_ms=\(format(openP99Milliseconds, 2))"
        line += " kernel_slab_bytes_per_socket=\(kernelSlabBytesPerSocket.map(String.init) ?? "NA")"
        line += " tcp_buffer_pages_before=\(kernelBefore.tcpBufferPages.map(String.init) ?? "NA")"
        line += " tcp_buffer_pages_end=\(kernelEnd.tcpBufferPages.map(String.init) ?? "NA")"
        return line
    }

    func summary(target: String) -> String {
        var lines: [String] = []
        lines.append("idle: \(connections) streams to \(target)")
        lines.append(
            "  opened \(opened) in \(format(rampSeconds, 1)) s (time to open p50 \(format(openP50Milliseconds, 2)) ms, p99 \(format(openP99Milliseconds, 2)) ms, max \(format(openMaxMilliseconds, 2)) ms), \(retries) retries"
        )
        var aliveLine = "  alive after \(format(holdSeconds, 1)) s hold: \(alive)/\(connections)"
        if requireChunk { aliveLine += " (each saw a chunk during the hold; heartbeat every \(format(expectHeartbeat, 1)) s)" }
        lines.append(aliveLine)
        if failed > 0 || closedByServer > 0 || silent > 0 {
            let reasons = failureReasons.sorted { $0.value > $1.value }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
            lines.append("  failed \(failed) [\(reasons)], closed by server \(closedByServer), open but silent during the hold \(silent)")
        }
        lines.append("  heartbeats during hold: \(heartbeatsDuringHold); body bytes received: \(bodyBytes)")
        if let rssBefore, let rssEnd {
            var per = rssPerConnection.map { "\($0) B per alive stream" } ?? "n/a per alive stream"
            if open != alive, let perOpen = rssPerOpenConnection { per += " (\(perOpen) B per open stream)" }
            lines.append("  server RSS \(format(Double(rssBefore) / 1_048_576, 1)) MiB → \(format(Double(rssEnd) / 1_048_576, 1)) MiB: \(per)")
        }
        if let perSocket = kernelSlabBytesPerSocket {
            lines.append(
                "  kernel, machine-wide: \(perSocket) B of slab per socket (TCP socket, inode, file, dentry, epoll entry; both ends counted)")
        }
        if let before = kernelBefore.tcpBufferPages, let end = kernelEnd.tcpBufferPages {
            lines.append("  kernel TCP buffer pages (sockstat mem): \(before) → \(end)")
        }
        if let serverCPUIdle { lines.append("  server CPU during the hold: \(format(serverCPUIdle, 2)) s") }
        lines.append("  harness CPU (whole run to the end of the hold): \(format(harnessCPU, 2)) s")
        return lines.joined(separator: "\n")
    }
}
