import ArgumentParser
import Histogram
import RillCore
import RillSSE

/// `rill-load fanout`: N subscribers, M published events, delivery latency and completeness.
struct FanoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout",
        abstract: "Subscribe N event streams, publish M events by POST, report delivery latency, loss and cost.",
        discussion: """
            The N streams open at the ramp rate; once every one has its response head, M events \
            are POSTed to --publish over keep-alive connections of the same loop, back-to-back \
            (each after the previous answer) or, with --rate, at R events per second. Each body \
            is 'seq=S t=T' padded to --payload-bytes; T is the monotonic clock in ns just \
            before the write, or with --rate the event's slot (start + i/R), so a send that \
            waited for a free publish connection counts in the latency. Every stream parses its events with RillSSE's ServerSentEventParser \
            and records receive time - T in an HdrHistogram, and which sequence numbers it got \
            (gaps: numbers missing below the highest one received; duplicates: received twice). \
            The run waits until every open stream has every acknowledged event, or nothing \
            arrived for --settle seconds; --timeout after the first POST stops publishing, \
            and the drain then lasts at most --settle seconds more. With \
            --server-pid, the server's CPU time is taken from the first POST to the end of that \
            wait. The harness is one loop thread: when its CPU time nears the wall time of the \
            publish phase, it is the bottleneck and the figures are a lower bound of the server's.
            """)

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Events to publish.")
    var events: Int

    @Option(help: "Events per second (default: back-to-back, each POST after the previous answer).")
    var rate: Double?

    @Option(help: "Size of each event's data in bytes (padded; at least what 'seq=S t=T' needs).")
    var payloadBytes: Int = 64

    @Option(
        name: .customLong("publish"),
        help: "The publish URL, such as http://127.0.0.1:18090/publish?channel=bench (TLS with https:// or --tls).")
    var publishURL: String

    @Option(help: "Keep-alive publish connections (default: 1 back-to-back, 16 with --rate).")
    var publishConnections: Int?

    @Option(
        help:
            "Seconds from the first POST until publishing stops (default: 300, or events/rate + 60); the drain after it takes at most --settle more.")
    var timeout: Double?

    @Option(help: "Seconds without any new delivery after the last answer before giving up on the rest.")
    var settle: Double = 5

    func validate() throws {
        guard events > 0, events <= 10_000_000 else { throw ValidationError("--events must be in 1...10000000") }
        if let rate { guard rate > 0, rate <= 1_000_000 else { throw ValidationError("--rate must be in (0, 1000000]") } }
        guard (1...1_048_576).contains(payloadBytes) else { throw ValidationError("--payload-bytes must be in 1...1048576") }
        if let publishConnections {
            guard (1...64).contains(publishConnections) else { throw ValidationError("--publish-connections must be in 1...64") }
        }
        if let timeout { guard timeout > 0, timeout <= 86_400 else { throw ValidationError("--timeout must be in (0, 86400]") } }
        guard settle > 0 else { throw ValidationError("--settle must be > 0") }
        _ = try TargetURL(publishURL)
        let words = (events + 63) / 64
        guard connection.connections * words <= 64 << 20 else {
            throw ValidationError("-c × --events is too large for the per-stream sequence bitmaps (512 MiB)")
        }
    }

    func run() async throws {
        let target = try TargetURL(connection.url)
        let publishTarget = try TargetURL(publishURL)
        let fileLimit = raiseOpenFileLimit()
        guard connection.connections + 96 <= fileLimit else {
            throw ValidationError("-c \(connection.connections) needs about \(connection.connections + 96) open files; the limit is \(fileLimit)")
        }
        guard let address = try TCPConnector.resolve(host: target.host, port: target.port).first,
            let publishAddress = try TCPConnector.resolve(host: publishTarget.host, port: publishTarget.port).first
        else {
            throw ValidationError("cannot resolve \(target.host) or \(publishTarget.host)")
        }
        let loop = try EventLoop(name: "rill-load")
        let driver = try LoadDriver(loop: loop, address: address, target: target, options: connection, mode: "fanout")
        let publisher = Publisher(
            loop: loop, address: publishAddress, target: publishTarget, events: events, rate: rate,
            payloadBytes: payloadBytes, connections: publishConnections ?? (rate == nil ? 1 : 16),
            connectTimeout: .milliseconds(Int64(connection.connectTimeout * 1000)),
            tls: try ClientTLS.make(enabled: connection.tls, target: publishTarget))
        let limit = timeout ?? (rate.map { Double(events) / $0 + 60 } ?? 300)
        let fanout = FanoutRun(
            driver: driver, publisher: publisher, events: events, timeout: limit, settle: settle)
        let report = await Task(executorPreference: loop.executor) { await fanout.run() }.value
        await loop.shutdown()
        print(report.summary(target: connection.url, publish: publishURL, rate: rate, payloadBytes: payloadBytes))
        print("  \(connection.protocolFields)")
        print(report.resultLine(rate: rate, payloadBytes: payloadBytes) + " " + connection.protocolFields)
    }
}

/// Per-stream bookkeeping of what arrived, fed by every client's parser. Loop-confined.
final class FanoutTracker: SSEEventSink {
    let events: Int
    private let words: Int
    /// Sequence numbers seen, `words` 64-bit words per stream.
    private var seen: [UInt64]
    /// Distinct sequence numbers per stream, and the highest one (-1: none).
    private(set) var distinct: [Int32]
    private(set) var highest: [Int32]
    private(set) var delivered = 0
    private(set) var duplicates = 0
    /// Events that arrived with a lower number than one already seen (not duplicates).
    private(set) var reordered = 0
    /// Events whose data was not `seq=S t=T` or whose S was out of range.
    private(set) var foreign = 0
    private(set) var lastDeliveryMicroseconds: UInt64 = 0
    /// Microseconds from the publisher's write to the subscriber's read callback.
    private(set) var latency = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)

    init(streams: Int, events: Int) {
        self.events = events
        words = (events + 63) / 64
        seen = [UInt64](repeating: 0, count: streams * words)
        distinct = [Int32](repeating: 0, count: streams)
        highest = [Int32](repeating: -1, count: streams)
    }

    func client(_ client: SSEClient, received batch: [MessageEvent]) {
        let now = monotonicNanoseconds()
        let stream = client.index
        for event in batch {
            guard let (sequence, sentAt) = Self.parse(event.data), sequence < events else {
                foreign += 1
                continue
            }
            let word = stream * words + sequence >> 6
            let bit = UInt64(1) << UInt64(sequence & 63)
            if seen[word] & bit != 0 {
                duplicates += 1
                continue
            }
            seen[word] |= bit
            distinct[stream] += 1
            delivered += 1
            if Int32(sequence) < highest[stream] { reordered += 1 } else { highest[stream] = Int32(sequence) }
            let micros = now > sentAt ? (now - sentAt + 500) / 1_000 : 0
            latency.record(min(micros, 600_000_000))
        }
        lastDeliveryMicroseconds = now / 1_000
    }

    /// Numbers missing below each stream's highest received one, summed.
    var gaps: Int {
        var total = 0
        for index in distinct.indices { total += Int(highest[index]) + 1 - Int(distinct[index]) }
        return total
    }

    /// `seq=S t=T…` → (S, T).
    static func parse(_ data: String) -> (Int, UInt64)? {
        data.utf8.withContiguousStorageIfAvailable { bytes -> (Int, UInt64)? in
            guard bytes.count >= 9, bytes[0] == 115, bytes[1] == 101, bytes[2] == 113, bytes[3] == 61 else { return nil }  // "seq="
            var index = 4
            var sequence = 0
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57, index < 22 {
                sequence = sequence * 10 + Int(bytes[index] - 48)
                index += 1
            }
            // " t="
            guard index > 4, index + 3 < bytes.count, bytes[index] == 32, bytes[index + 1] == 116, bytes[index + 2] == 61 else { return nil }
            index += 3
            let start = index
            var time: UInt64 = 0
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57, index - start < 19 {
                time = time * 10 + UInt64(bytes[index] - 48)
                index += 1
            }
            return index > start ? (sequence, time) : nil
        } ?? nil
    }
}

/// The fan-out scenario on the loop: ramp, connect the publisher, publish, wait, judge, tear down.
struct FanoutRun {
    let driver: LoadDriver
    let publisher: Publisher
    let events: Int
    let timeout: Double
    let settle: Double

    func run() async -> FanoutReport {
        let probe = driver.serverProbe
        let startCPU = ownCPUSeconds()
        let tracker = FanoutTracker(streams: driver.options.connections, events: events)
        driver.eventSink = tracker

        await driver.openAll()
        let streaming = driver.clients.filter { $0.phase == .streaming }.count
        driver.setPhase("connect publisher")
        let publishersUp = streaming > 0 ? await publisher.connect() : 0

        driver.setPhase("publish")
        let publisher = self.publisher
        let expectedTotal = events * driver.options.connections
        driver.progressDetail = {
            var line = "| sent \(publisher.sent) acked \(publisher.acknowledged) publish-failed \(publisher.failed)"
            line += " delivered \(tracker.delivered)/\(expectedTotal) dup \(tracker.duplicates)"
            if tracker.delivered > 0 { line += " lat-p99 \(format(Double(tracker.latency.valueAtPercentile(99)) / 1000, 2)) ms" }
            return line
        }
        let serverCPUStart = probe?.cpuSeconds()
        let loopStart = probe?.loopThreadSamples() ?? []
        let harnessCPUStart = ownCPUSeconds()
        let systemStart = SystemCPU.now()
        let phaseStart = monotonicMicroseconds()
        let deadline = phaseStart + UInt64(timeout * 1_000_000)
        var timedOut = false
        if publishersUp > 0 {
            let deadlineTimer = driver.loop.schedule(after: .milliseconds(Int64(timeout * 1000))) { publisher.stop() }
            await publisher.run()
            deadlineTimer.cancel()
            timedOut = publisher.acknowledged + publisher.failed < events

            // Drain: until every open stream has every acknowledged event, nothing new arrived
            // for `settle` seconds, or `settle` seconds past the deadline (so what was in flight
            // when publishing stopped still counts).
            driver.setPhase("drain")
            let settleMicroseconds = UInt64(settle * 1_000_000)
            let drainDeadline = max(deadline, monotonicMicroseconds()) + settleMicroseconds
            while true {
                let now = monotonicMicroseconds()
                if now >= drainDeadline {
                    timedOut = true
                    break
                }
                let lastActivity = max(tracker.lastDeliveryMicroseconds, publisher.lastAnswerMicroseconds)
                if now - lastActivity > settleMicroseconds { break }
                var complete = true
                for client in driver.clients
                where client.phase == .streaming
                    && Int(tracker.distinct[client.index]) < publisher.acknowledged
                {
                    complete = false
                    break
                }
                // Requests still unanswered when the deadline stopped publishing may add events.
                if complete && publisher.inFlight == 0 { break }
                try? await driver.loop.sleep(for: .milliseconds(20))
            }
        }
        let phaseEnd = monotonicMicroseconds()
        let serverCPUEnd = probe?.cpuSeconds()
        let loopEnd = probe?.loopThreadSamples() ?? []
        let loopsComparable = loopEnd.count == loopStart.count
        // Each loop's writes, or none at all when one loop's count is missing (no misaligned list).
        let loopWrites = zip(loopEnd, loopStart).map { $0.writeCalls(since: $1) }
        let harnessCPUEnd = ownCPUSeconds()
        let systemEnd = SystemCPU.now()
        var otherCPU: Double?
        var steal: Double?
        if let systemStart, let systemEnd {
            let busy = systemEnd.busy - systemStart.busy
            otherCPU = max(0, busy - (harnessCPUEnd - harnessCPUStart) - (serverCPUStart.flatMap { start in serverCPUEnd.map { $0 - start } } ?? 0))
            steal = systemEnd.steal - systemStart.steal
        }

        let stillOpen = driver.clients.filter { $0.phase == .streaming }.count
        let firstSend = publisher.firstSendMicroseconds
        let lastDelivery = tracker.lastDeliveryMicroseconds
        let deliverySeconds = lastDelivery > firstSend && firstSend > 0 ? Double(lastDelivery - firstSend) / 1_000_000 : 0
        let publishSeconds =
            publisher.lastAnswerMicroseconds > firstSend && firstSend > 0
            ? Double(publisher.lastAnswerMicroseconds - firstSend) / 1_000_000 : 0
        var answers = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
        for value in publisher.answerTimes { answers.record(min(value, 600_000_000)) }
        let latency = tracker.latency
        func ms(_ percentile: Double) -> Double { Double(latency.valueAtPercentile(percentile)) / 1000 }
        let report = FanoutReport(
            connections: driver.clients.count, opened: driver.openCount, openAtEnd: stillOpen,
            failed: driver.failedCount, closedByServer: driver.closedByServerCount, retries: driver.retryCount,
            failureReasons: driver.failureReasons, rampSeconds: driver.rampSeconds,
            events: events, sent: publisher.sent, acknowledged: publisher.acknowledged, publishFailed: publisher.failed,
            publishFailureReasons: publisher.failureReasons, publishConnections: publisher.connectionCount,
            publishersUp: publishersUp, late: publisher.late, maxLagMilliseconds: Double(publisher.maxLagMicroseconds) / 1000,
            firstSubscribers: publisher.firstSubscribers, minSubscribers: publisher.minSubscribers,
            answerP50Milliseconds: answers.totalCount > 0 ? Double(answers.valueAtPercentile(50)) / 1000 : 0,
            answerP99Milliseconds: answers.totalCount > 0 ? Double(answers.valueAtPercentile(99)) / 1000 : 0,
            delivered: tracker.delivered, expected: expectedTotal, expectedAcknowledged: publisher.acknowledged * driver.clients.count,
            gaps: tracker.gaps, duplicates: tracker.duplicates,
            reordered: tracker.reordered, foreign: tracker.foreign,
            deliverySeconds: deliverySeconds, publishSeconds: publishSeconds,
            phaseSeconds: Double(phaseEnd - phaseStart) / 1_000_000,
            latencyP50: tracker.delivered > 0 ? ms(50) : 0, latencyP90: tracker.delivered > 0 ? ms(90) : 0,
            latencyP99: tracker.delivered > 0 ? ms(99) : 0, latencyP999: tracker.delivered > 0 ? ms(99.9) : 0,
            latencyMax: tracker.delivered > 0 ? Double(latency.max) / 1000 : 0,
            serverCPU: serverCPUStart.flatMap { start in serverCPUEnd.map { $0 - start } },
            loopCPU: loopsComparable ? zip(loopEnd, loopStart).map { $0.cpuSeconds - $1.cpuSeconds } : [],
            loopWrites: loopsComparable && !loopWrites.contains(nil) ? loopWrites.compactMap { $0 } : [],
            harnessCPUPhase: harnessCPUEnd - harnessCPUStart, harnessCPU: harnessCPUEnd - startCPU,
            otherCPU: otherCPU, stealCPU: steal, timedOut: timedOut)
        driver.progressDetail = nil
        publisher.closeAll()
        await driver.closeAll()
        return report
    }
}

struct FanoutReport: Sendable {
    var connections: Int
    var opened: Int
    var openAtEnd: Int
    var failed: Int
    var closedByServer: Int
    var retries: Int
    var failureReasons: [String: Int]
    var rampSeconds: Double
    var events: Int
    var sent: Int
    var acknowledged: Int
    var publishFailed: Int
    var publishFailureReasons: [String: Int]
    var publishConnections: Int
    var publishersUp: Int
    var late: Int
    var maxLagMilliseconds: Double
    var firstSubscribers: Int?
    var minSubscribers: Int?
    var answerP50Milliseconds: Double
    var answerP99Milliseconds: Double
    var delivered: Int
    var expected: Int
    /// Acknowledged events × streams: what could have arrived if publishing stopped early.
    var expectedAcknowledged: Int
    var gaps: Int
    var duplicates: Int
    var reordered: Int
    var foreign: Int
    /// First POST written → last event received.
    var deliverySeconds: Double
    /// First POST written → last answer.
    var publishSeconds: Double
    /// First POST → end of the drain wait (the CPU sampling window).
    var phaseSeconds: Double
    var latencyP50: Double
    var latencyP90: Double
    var latencyP99: Double
    var latencyP999: Double
    var latencyMax: Double
    var serverCPU: Double?
    /// The CPU seconds of each of the server's `rill-loop-N` threads in the publish phase
    /// (empty: a server without such threads).
    var loopCPU: [Double]
    /// Each loop thread's write system calls in the publish phase (its answers to the
    /// publisher and the event writes), at index N for `rill-loop-N`; empty for other servers.
    var loopWrites: [Int]
    var harnessCPUPhase: Double
    var harnessCPU: Double
    /// CPU seconds the machine spent on anything but the server and the harness during the
    /// publish phase (other processes, and softirq time not charged to either).
    var otherCPU: Double?
    var stealCPU: Double?
    var timedOut: Bool

    var deliveriesPerSecond: Double { deliverySeconds > 0 ? Double(delivered) / deliverySeconds : 0 }
    var serverMicrosecondsPerDelivery: Double? {
        guard let serverCPU, delivered > 0 else { return nil }
        return serverCPU * 1_000_000 / Double(delivered)
    }
    /// Deliveries per event write of the loop threads in the publish phase (what coalescing
    /// achieved: several events pending for a stream leave in one write); the publisher's
    /// answers are not counted as event writes. Nil without the loops' write counts.
    var deliveriesPerWrite: Double? {
        let writes = loopWrites.reduce(0, +) - acknowledged - publishFailed
        return loopWrites.isEmpty || writes <= 0 ? nil : Double(delivered) / Double(writes)
    }
    /// Harness CPU over the publish phase's wall time: near 1, one core's worth, so harness-bound.
    var harnessBusy: Double { phaseSeconds > 0 ? harnessCPUPhase / phaseSeconds : 0 }
    var serverBusy: Double? { serverCPU.map { phaseSeconds > 0 ? $0 / phaseSeconds : 0 } }
    var harnessBound: Bool { harnessBusy >= 0.85 }
    var publishRate: Double { publishSeconds > 0 ? Double(acknowledged) / publishSeconds : 0 }

    func resultLine(rate: Double?, payloadBytes: Int) -> String {
        let cpu = serverCPU.map { format($0, 2) } ?? "NA"
        let perDelivery = serverMicrosecondsPerDelivery.map { format($0, 2) } ?? "NA"
        var line = "RESULT mode=fanout connections=\(connections) events=\(events) delivered=\(delivered) expected=\(expected)"
        line += " gaps=\(gaps) duplicates=\(duplicates) deliveries_per_s=\(format(deliveriesPerSecond, 0))"
        line += " latency_p50_ms=\(format(latencyP50, 3)) latency_p90_ms=\(format(latencyP90, 3))"
        line += " latency_p99_ms=\(format(latencyP99, 3)) latency_max_ms=\(format(latencyMax, 3))"
        line += " server_cpu_s=\(cpu) server_us_per_delivery=\(perDelivery) harness_cpu_s=\(format(harnessCPUPhase, 2))"
        line += " server_loop_cpu_s=\(loopCPU.isEmpty ? "NA" : loopCPU.map { format($0, 2) }.joined(separator: ","))"
        line += " server_loop_writes=\(loopWrites.isEmpty ? "NA" : loopWrites.map(String.init).joined(separator: ","))"
        line += " deliveries_per_write=\(deliveriesPerWrite.map { format($0, 2) } ?? "NA")"
        line += " harness_cpu_total_s=\(format(harnessCPU, 2)) harness_busy_pct=\(format(harnessBusy * 100, 0))"
        line += " server_busy_pct=\(serverBusy.map { format($0 * 100, 0) } ?? "NA") harness_bound=\(harnessBound ? 1 : 0)"
        line += " rate=\(rate.map { format($0, 1) } ?? "max") payload_bytes=\(payloadBytes) sent=\(sent) acked=\(acknowledged)"
        line += " expected_acked=\(expectedAcknowledged) publish_failed=\(publishFailed) publish_rate=\(format(publishRate, 1)) late=\(late)"
        line += " opened=\(opened) open_at_end=\(openAtEnd) closed_by_server=\(closedByServer) failed=\(failed)"
        line += " other_cpu_pct=\(otherCPU.map { format(phaseSeconds > 0 ? $0 * 100 / phaseSeconds : 0, 0) } ?? "NA")"
        line += " steal_cpu_s=\(stealCPU.map { format($0, 2) } ?? "NA")"
        line += " reordered=\(reordered) foreign=\(foreign) delivery_s=\(format(deliverySeconds, 2)) timed_out=\(timedOut ? 1 : 0)"
        return line
    }

    func summary(target: String, publish: String, rate: Double?, payloadBytes: Int) -> String {
        var lines: [String] = []
        let mode = rate.map { "at \(format($0, 1)) events/s" } ?? "back-to-back"
        lines.append("fanout: \(connections) streams to \(target); \(events) events of \(payloadBytes) B \(mode) to \(publish)")
        lines.append(
            "  opened \(opened) in \(format(rampSeconds, 1)) s, \(retries) retries, \(failed) failed; open at the end \(openAtEnd), closed by server \(closedByServer)"
        )
        if failed > 0 {
            lines.append("  open failures: " + failureReasons.sorted { $0.value > $1.value }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
        }
        var publishLine = "  published \(acknowledged)/\(events) (sent \(sent), failed \(publishFailed)) in \(format(publishSeconds, 2)) s"
        publishLine += " = \(format(publishRate, 1)) events/s over \(publishersUp)/\(publishConnections) connection(s);"
        publishLine += " answer p50 \(format(answerP50Milliseconds, 2)) ms, p99 \(format(answerP99Milliseconds, 2)) ms"
        lines.append(publishLine)
        if rate != nil {
            var lateLine = "  late sends (> 5 ms after their slot): \(late), max lag \(format(maxLagMilliseconds, 1)) ms"
            if late > 0 { lateLine += " (latency counts from each event's slot, so it includes this lag)" }
            lines.append(lateLine)
        }
        if publishFailed > 0 {
            lines.append(
                "  publish failures: " + publishFailureReasons.sorted { $0.value > $1.value }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
            )
        }
        if let firstSubscribers, let minSubscribers {
            lines.append("  server says it reached \(firstSubscribers) subscribers with the first event, at least \(minSubscribers) with each")
        }
        let percent = expected > 0 ? format(Double(delivered) * 100 / Double(expected), 2) : "0"
        if expectedAcknowledged != expected {
            lines.append(
                "  publishing stopped early: \(acknowledged) of \(events) events acknowledged, so at most \(expectedAcknowledged) deliveries could arrive; \(delivered) did"
            )
        }
        lines.append(
            "  delivered \(delivered)/\(expected) (\(percent) %), gaps \(gaps), duplicates \(duplicates), reordered \(reordered), foreign \(foreign)\(timedOut ? ", TIMED OUT" : "")"
        )
        lines.append("  \(format(deliveriesPerSecond, 0)) deliveries/s (first POST → last event received: \(format(deliverySeconds, 2)) s)")
        lines.append(
            "  latency \(rate == nil ? "POST write" : "event's slot") → event read: p50 \(format(latencyP50, 3)) ms, p90 \(format(latencyP90, 3)) ms, p99 \(format(latencyP99, 3)) ms, p99.9 \(format(latencyP999, 3)) ms, max \(format(latencyMax, 3)) ms"
        )
        if let serverCPU, let serverBusy {
            var serverLine =
                "  server CPU in the publish phase (\(format(phaseSeconds, 2)) s): \(format(serverCPU, 2)) s = \(format(serverBusy * 100, 0)) % of a core"
            if let perDelivery = serverMicrosecondsPerDelivery { serverLine += ", \(format(perDelivery, 2)) µs per delivery" }
            lines.append(serverLine)
            if !loopCPU.isEmpty {
                let loops = loopCPU.enumerated().map { "rill-loop-\($0) \(format($1, 2)) s" }.joined(separator: ", ")
                lines.append("  of which its loop threads: \(loops)")
            }
            if let perWrite = deliveriesPerWrite {
                lines.append(
                    "  loop threads' writes: \(loopWrites.map(String.init).joined(separator: " + ")), \(format(perWrite, 2)) deliveries per event write"
                )
            }
        }
        lines.append(
            "  harness CPU in the publish phase: \(format(harnessCPUPhase, 2)) s = \(format(harnessBusy * 100, 0)) % of a core (whole run \(format(harnessCPU, 2)) s)"
        )
        if let otherCPU, phaseSeconds > 0 {
            var otherLine =
                "  CPU used by anything else meanwhile (other processes, softirq not charged to either): \(format(otherCPU, 2)) s = \(format(otherCPU * 100 / phaseSeconds, 0)) % of a core"
            if let stealCPU, stealCPU > 0.05 { otherLine += "; hypervisor steal \(format(stealCPU, 2)) s" }
            if otherCPU / phaseSeconds > 0.2 { otherLine += " — the cores were shared, figures are pessimistic" }
            lines.append(otherLine)
        }
        if harnessBound {
            lines.append(
                "  HARNESS-BOUND: the harness's loop used \(format(harnessBusy * 100, 0)) % of its core, so it, not the server, may set the pace; latency and deliveries/s are then limits of the harness (server CPU per delivery is still the server's)."
            )
        } else if let serverBusy, serverBusy >= 0.85 {
            lines.append("  server-bound: the server's loop used \(format(serverBusy * 100, 0)) % of its core; the harness had headroom.")
        }
        return lines.joined(separator: "\n")
    }
}
