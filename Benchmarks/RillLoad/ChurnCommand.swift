import ArgumentParser
import Histogram
import RillCore

/// `rill-load churn`: connection churn. C connections stay in flight; each connects, sends the
/// SSE GET, reads until the first SSE line (`--until line`) or the first body byte (`--until
/// byte`) after the `200 text/event-stream` head, closes (a FIN), and is replaced at once, for D
/// seconds.
struct ChurnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "churn",
        abstract: "Keep C connections cycling (connect, GET, first SSE line, close) for D seconds; report connections per second.",
        discussion: """
            -c is the concurrency: that many cycles are in flight at any time; a completed \
            cycle is replaced at once, a failed one after 10 ms (so a dead server is not \
            hammered). A cycle completes after a '200' 'text/event-stream' head at the end of \
            the first SSE line of the body (a line feed: what an EventSource must see before \
            it can act), or with --until byte at the first body byte; its latency runs from the \
            start of the connect to that read. The close is a plain close(2): every byte \
            received has been read, so the kernel sends a FIN, not a reset. Failures: refused, reset (a reset or EOF before the first byte), timeout \
            (--connect-timeout, or --head-timeout to the first byte), status (a non-200 head \
            or a wrong content type), other (EADDRNOTAVAIL: local ports exhausted, …). \
            Nothing is retried (--ramp, --max-pending, --retries do not apply). Cycles still \
            in flight when D ends are abandoned: neither completed nor failed. \
            The client closes first, so a cycle can leave a TIME_WAIT socket on the client \
            side for 60 s (against SSEIdleServer it does not: the server still sends after \
            the client's FIN, the client's kernel answers with a reset, TcpExtTCPAbortOnData \
            counts one per cycle, and nothing stays in TIME_WAIT). So that ports cannot run \
            out either way, with a loopback target the cycles spread over --source-addresses \
            loopback sources (default here: 8, 127.0.0.1-127.0.0.8, each with its own \
            28,232 ephemeral ports towards the server); SO_LINGER 0 is not used.
            """)

    @OptionGroup var connection: ConnectionOptions

    @Option(name: [.customShort("d"), .long], help: "Seconds to churn.")
    var duration: Double

    @Option(help: "When a cycle is complete and closes: at the end of the first SSE line (line) or at the first body byte (byte).")
    var until: ChurnDriver.Completion = .line

    func validate() throws {
        guard duration > 0, duration <= 86_400 else { throw ValidationError("-d must be in (0, 86400]") }
        guard !connection.h2 else { throw ValidationError("--h2 is for idle and fanout; churn opens HTTP/1.1 connections") }
    }

    /// Spread over several loopback sources unless told otherwise: churn leaves TIME_WAIT sockets behind.
    static let defaultSourceAddresses = 8

    func run() async throws {
        let target = try TargetURL(connection.url)
        let fileLimit = raiseOpenFileLimit()
        // Each slot may hold a closing handle plus its next connection.
        guard 2 * connection.connections + 32 <= fileLimit else {
            throw ValidationError("-c \(connection.connections) needs about \(2 * connection.connections + 32) open files; the limit is \(fileLimit)")
        }
        guard let address = try TCPConnector.resolve(host: target.host, port: target.port).first else {
            throw ValidationError("cannot resolve \(target.host)")
        }
        var sources: [String] = []
        if !address.isIPv6, address.host.hasPrefix("127.") {
            let count = connection.sourceAddresses > 0 ? connection.sourceAddresses : Self.defaultSourceAddresses
            if count > 1 { sources = (1...count).map { "127.0.0.\($0)" } }
        }
        let loop = try EventLoop(name: "rill-load")
        let driver = ChurnDriver(
            loop: loop, address: address, target: target, options: connection, sourceHosts: sources, completion: until)
        let seconds = duration
        let report = await Task(executorPreference: loop.executor) {
            await driver.run(seconds: seconds)
        }.value
        await loop.shutdown()
        print(report.summary(target: connection.url))
        print(report.resultLine)
    }
}

/// Runs the churn on one loop. Loop-confined: every method runs on the loop's thread.
final class ChurnDriver: @unchecked Sendable {
    enum FailureKind: String, CaseIterable {
        case refused, reset, timeout, status, other
    }

    /// What a cycle reads before it closes.
    enum Completion: String, CaseIterable, ExpressibleByArgument {
        /// The first line feed of the body: the first complete SSE line.
        case line
        /// The first body byte.
        case byte
    }

    let loop: EventLoop
    let address: SocketAddress
    let requestBytes: [UInt8]
    let options: ConnectionOptions
    let connectTimeout: Duration
    let sourceHosts: [String]
    let serverProbe: ProcessProbe?
    let completion: Completion

    private var slots: [ChurnCycle?]
    private(set) var running = false
    /// Handles opened and not yet freed (in flight or closing).
    private var openHandles = 0
    /// Connects whose completion has not run yet.
    private var pendingConnects = 0
    private var nextSource = 0
    private(set) var completed = 0
    private(set) var failures: [FailureKind: Int] = [:]
    private(set) var failureReasons: [String: Int] = [:]
    /// Microseconds from the start of the connect to the read that completed the cycle (the
    /// first SSE line or body byte; the `first_byte` fields of the report keep their name).
    private(set) var firstByte = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    private var startMicroseconds: UInt64 = 0
    private var progressTimer: ScheduledTimer?
    private var completedAtLastTick = 0
    private var lastTickMicroseconds: UInt64 = 0

    init(
        loop: EventLoop, address: SocketAddress, target: TargetURL, options: ConnectionOptions, sourceHosts: [String],
        completion: Completion = .line
    ) {
        self.completion = completion
        self.loop = loop
        self.address = address
        self.requestBytes = target.request
        self.options = options
        self.sourceHosts = sourceHosts
        connectTimeout = .milliseconds(Int64(options.connectTimeout * 1000))
        serverProbe = options.serverPid.map { ProcessProbe(pid: $0) }
        slots = Array(repeating: nil, count: options.connections)
    }

    var failureCount: Int { failures.values.reduce(0, +) }

    func run(seconds: Double) async -> ChurnReport {
        loop.preconditionInEventLoop()
        let serverCPUStart = serverProbe?.cpuSeconds()
        let harnessCPUStart = ownCPUSeconds()
        startMicroseconds = monotonicMicroseconds()
        lastTickMicroseconds = startMicroseconds
        running = true
        for slot in slots.indices { startCycle(in: slot) }
        progressTimer = loop.schedule(after: .seconds(1)) { [self] in self.progressTick() }

        try? await loop.sleep(for: .milliseconds(Int64(seconds * 1000)))

        running = false
        let elapsed = Double(monotonicMicroseconds() - startMicroseconds) / 1_000_000
        let serverCPUEnd = serverProbe?.cpuSeconds()
        let harnessCPU = ownCPUSeconds() - harnessCPUStart
        progressTimer?.cancel()
        progressTimer = nil
        let report = ChurnReport(
            concurrency: options.connections, seconds: elapsed, cycles: completed, failures: failures,
            failureReasons: failureReasons, abandoned: slots.reduce(0) { $0 + ($1 == nil ? 0 : 1) },
            firstByteP50Milliseconds: Double(firstByte.valueAtPercentile(50)) / 1000,
            firstByteP99Milliseconds: Double(firstByte.valueAtPercentile(99)) / 1000,
            firstByteMaxMilliseconds: Double(firstByte.max) / 1000,
            serverCPU: serverCPUStart.flatMap { start in serverCPUEnd.map { $0 - start } },
            harnessCPU: harnessCPU, sourceAddresses: max(1, sourceHosts.count), completion: completion)

        // Teardown (bounded): abandon what is in flight, wait for the handles to be freed.
        for index in slots.indices {
            slots[index]?.abandon()
            slots[index] = nil
        }
        let deadline = loop.nowMilliseconds + 5_000
        while openHandles > 0 || pendingConnects > 0, loop.nowMilliseconds < deadline {
            try? await loop.sleep(for: .milliseconds(20))
        }
        return report
    }

    private func startCycle(in slot: Int) {
        guard running else {
            slots[slot] = nil
            return
        }
        let source = sourceHosts.isEmpty ? nil : sourceHosts[nextSource % sourceHosts.count]
        nextSource &+= 1
        let cycle = ChurnCycle(slot: slot, driver: self)
        slots[slot] = cycle
        cycle.start(localHost: source)
    }

    // MARK: Called by cycles

    func connectStarted() { pendingConnects += 1 }
    func connectFinished() { pendingConnects -= 1 }
    func handleOpened() { openHandles += 1 }
    func handleFreed() { openHandles -= 1 }

    func cycleCompleted(_ cycle: ChurnCycle, microseconds: UInt64) {
        guard running, slots[cycle.slot] === cycle else { return }
        completed += 1
        firstByte.record(microseconds)
        startCycle(in: cycle.slot)
    }

    func cycleFailed(_ cycle: ChurnCycle, kind: FailureKind, reason: String) {
        guard running, slots[cycle.slot] === cycle else { return }
        failures[kind, default: 0] += 1
        failureReasons[reason, default: 0] += 1
        slots[cycle.slot] = nil
        let slot = cycle.slot
        loop.schedule(after: .milliseconds(10)) { [self] in
            if self.slots[slot] == nil { self.startCycle(in: slot) }
        }
    }

    // MARK: Progress

    private func progressTick() {
        let now = monotonicMicroseconds()
        let headLimit = UInt64(options.headTimeout * 1000)
        let nowMilliseconds = loop.nowMilliseconds
        for case let cycle? in slots { cycle.checkFirstByteTimeout(now: nowMilliseconds, limit: headLimit) }
        if !options.quiet {
            let elapsed = Double(now - startMicroseconds) / 1_000_000
            let interval = Double(now - lastTickMicroseconds) / 1_000_000
            let rate = interval > 0 ? Double(completed - completedAtLastTick) / interval : 0
            var line = "[rill-load churn \(format(elapsed, 1))s] cycles \(completed) (\(format(rate, 0))/s)"
            line += " in-flight \(slots.reduce(0) { $0 + ($1 == nil ? 0 : 1) }) handles \(openHandles) failures \(failureCount)"
            if failureCount > 0 {
                line +=
                    " [" + FailureKind.allCases.compactMap { kind in failures[kind].map { "\(kind.rawValue) \($0)" } }.joined(separator: ", ") + "]"
            }
            line += " first-byte p50 \(format(Double(firstByte.valueAtPercentile(50)) / 1000, 2)) ms"
            line += " p99 \(format(Double(firstByte.valueAtPercentile(99)) / 1000, 2)) ms"
            if let cpu = serverProbe?.cpuSeconds() { line += " server-cpu \(format(cpu, 2)) s" }
            writeToStandardError(line + "\n")
        }
        completedAtLastTick = completed
        lastTickMicroseconds = now
        progressTimer = loop.schedule(after: .seconds(1)) { [self] in self.progressTick() }
    }
}

/// One connect → GET → first SSE line (or body byte) → close cycle. Loop-confined.
final class ChurnCycle: TransportDelegate {
    enum Phase { case connecting, awaitingFirstByte, done }

    let slot: Int
    unowned let driver: ChurnDriver
    private var phase = Phase.connecting
    private var stream: TCPStream?
    private var decoder = ResponseDecoder()
    /// A line feed has arrived in the body.
    private var sawLineEnd = false
    private var startMicroseconds: UInt64 = 0
    private var connectedMilliseconds: UInt64 = 0

    init(slot: Int, driver: ChurnDriver) {
        self.slot = slot
        self.driver = driver
    }

    func start(localHost: String?) {
        startMicroseconds = monotonicMicroseconds()
        driver.connectStarted()
        // No TCP_NODELAY: the request is the only write, and a first segment is never delayed.
        TCPConnector.connect(
            loop: driver.loop, to: driver.address, timeout: driver.connectTimeout, noDelay: false, localHost: localHost
        ) { [self] result in
            driver.connectFinished()
            switch result {
            case .success(let stream):
                driver.handleOpened()
                guard phase == .connecting else {
                    // Abandoned while connecting (the run ended): drop the late connection.
                    stream.delegate = self
                    stream.close()
                    return
                }
                self.stream = stream
                phase = .awaitingFirstByte
                connectedMilliseconds = driver.loop.nowMilliseconds
                stream.delegate = self
                stream.startReading()
                stream.write(driver.requestBytes)
            case .failure(let error):
                guard phase == .connecting else { return }
                let kind: ChurnDriver.FailureKind =
                    switch error.name {
                    case "ECONNREFUSED": .refused
                    case "ECONNRESET", "EPIPE": .reset
                    case "ETIMEDOUT": .timeout
                    default: .other
                    }
                fail(kind, "connect \(error.name)")
            }
        }
    }

    /// The run ended: close without counting anything.
    func abandon() {
        phase = .done
        stream?.close()
    }

    func checkFirstByteTimeout(now: UInt64, limit: UInt64) {
        if phase == .awaitingFirstByte, now - connectedMilliseconds > limit { fail(.timeout, "first-byte timeout") }
    }

    private func fail(_ kind: ChurnDriver.FailureKind, _ reason: String) {
        guard phase != .done else { return }
        phase = .done
        stream?.close()
        driver.cycleFailed(self, kind: kind, reason: reason)
    }

    // MARK: TransportDelegate

    func transport(_ stream: any Transport, didRead bytes: UnsafeRawBufferPointer) {
        guard phase == .awaitingFirstByte else { return }
        let completedHead: Bool
        var lineEnded = false
        do {
            completedHead = try decoder.feed(bytes) { body in
                if !lineEnded, body.contains(0x0A) { lineEnded = true }
            }
        } catch {
            fail(.other, "bad response (\(error))")
            return
        }
        if completedHead, let head = decoder.head {
            if head.status != 200 {
                fail(.status, "status \(head.status)")
                return
            }
            guard head.contentType.lowercased().hasPrefix("text/event-stream") else {
                fail(.status, "content-type \(head.contentType.isEmpty ? "missing" : head.contentType)")
                return
            }
        }
        if lineEnded { sawLineEnd = true }
        let complete =
            switch driver.completion {
            case .line: sawLineEnd
            case .byte: decoder.bodyBytes > 0
            }
        if decoder.head != nil, complete {
            let microseconds = monotonicMicroseconds() - startMicroseconds
            phase = .done
            stream.close()
            driver.cycleCompleted(self, microseconds: microseconds)
        } else if decoder.isEnded {
            fail(.reset, "stream ended before the first \(driver.completion == .line ? "SSE line" : "body byte")")
        }
    }

    func transport(_ stream: any Transport, didEndReadingWith error: UVError?) {
        if phase == .awaitingFirstByte {
            fail(error?.name == "ETIMEDOUT" ? .timeout : .reset, error.map { "read \($0.name)" } ?? "EOF before the first body byte")
        } else {
            stream.close()
        }
    }

    func transportDidDrain(_ stream: any Transport) {}

    func transportDidClose(_ stream: any Transport) {
        if self.stream === stream { self.stream = nil }
        driver.handleFreed()
        // Closed under us (a write error) before the first byte.
        if phase == .awaitingFirstByte { fail(.reset, "write \(stream.writeError?.name ?? "error")") }
    }
}

struct ChurnReport: Sendable {
    var concurrency: Int
    var seconds: Double
    var cycles: Int
    var failures: [ChurnDriver.FailureKind: Int]
    var failureReasons: [String: Int]
    var abandoned: Int
    var firstByteP50Milliseconds: Double
    var firstByteP99Milliseconds: Double
    var firstByteMaxMilliseconds: Double
    var serverCPU: Double?
    var harnessCPU: Double
    var sourceAddresses: Int
    var completion: ChurnDriver.Completion

    var failureCount: Int { failures.values.reduce(0, +) }
    var connectionsPerSecond: Double { seconds > 0 ? Double(cycles) / seconds : 0 }

    var resultLine: String {
        var line = "RESULT mode=churn concurrency=\(concurrency) duration_s=\(format(seconds, 1)) cycles=\(cycles)"
        line += " connections_per_s=\(format(connectionsPerSecond, 0)) failures=\(failureCount)"
        line += " first_byte_p50_ms=\(format(firstByteP50Milliseconds, 2)) first_byte_p99_ms=\(format(firstByteP99Milliseconds, 2))"
        line += " server_cpu_s=\(serverCPU.map { format($0, 2) } ?? "NA") harness_cpu_s=\(format(harnessCPU, 2))"
        for kind in ChurnDriver.FailureKind.allCases { line += " failures_\(kind.rawValue)=\(failures[kind] ?? 0)" }
        line += " first_byte_max_ms=\(format(firstByteMaxMilliseconds, 2)) abandoned=\(abandoned) source_addresses=\(sourceAddresses)"
        line += " until=\(completion.rawValue)"
        if let serverCPU, cycles > 0 { line += " server_cpu_us_per_conn=\(format(serverCPU / Double(cycles) * 1_000_000, 1))" }
        return line
    }

    func summary(target: String) -> String {
        var lines: [String] = []
        let until = completion == .line ? "first SSE line" : "first body byte"
        lines.append(
            "churn: \(concurrency) concurrent connect → GET → \(until) → close cycles to \(target), from \(sourceAddresses) source address(es)"
        )
        lines.append(
            "  \(cycles) cycles in \(format(seconds, 1)) s: \(format(connectionsPerSecond, 0)) connections/s (\(abandoned) in flight at the end, abandoned)"
        )
        lines.append(
            "  connect → \(until): p50 \(format(firstByteP50Milliseconds, 2)) ms, p99 \(format(firstByteP99Milliseconds, 2)) ms, max \(format(firstByteMaxMilliseconds, 2)) ms"
        )
        var failureLine = "  failures \(failureCount)"
        if failureCount > 0 {
            let reasons = failureReasons.sorted { $0.value > $1.value }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
            failureLine += " [\(reasons)]"
        }
        lines.append(failureLine)
        if let serverCPU {
            var cpuLine = "  server CPU during the run: \(format(serverCPU, 2)) s"
            if cycles > 0 { cpuLine += " (\(format(serverCPU / Double(cycles) * 1_000_000, 1)) µs per connection)" }
            lines.append(cpuLine)
        }
        lines.append("  harness CPU during the run: \(format(harnessCPU, 2)) s")
        return lines.joined(separator: "\n")
    }
}
