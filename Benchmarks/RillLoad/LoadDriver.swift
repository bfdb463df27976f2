import Histogram
import RillCore
import RillSSE

#if canImport(Glibc)
    import Glibc
#endif

/// Opens and holds many ``SSEClient``s on one event loop, and does the bookkeeping every mode
/// shares: the bounded ramp, retries with backoff, the head timeout, progress lines, teardown.
/// Loop-confined: every method runs on the loop's thread.
final class LoadDriver: @unchecked Sendable {
    let loop: EventLoop
    let address: SocketAddress
    /// The stream's URL, split.
    let target: TargetURL
    /// The HTTP/1.1 request each client sends on its own connection.
    let requestBytes: [UInt8]
    let options: ConnectionOptions
    let connectTimeout: Duration
    let mode: String
    let serverProbe: ProcessProbe?
    /// Source addresses clients take in turn (empty: the kernel's choice).
    let sourceHosts: [String]
    /// TLS for every client connection (`--tls`, `https://`); nil: plain TCP.
    let tls: ClientTLS?

    private(set) var clients: [SSEClient] = []
    /// `--h2`: the shared connections, client `i` on connection `i / streamsPerConnection`;
    /// empty: each client has a connection of its own (HTTP/1.1).
    private(set) var http2Connections: [HTTP2LoadConnection] = []
    private var nextToStart = 0
    private(set) var inFlight = 0
    private(set) var openCount = 0
    private(set) var failedCount = 0
    private(set) var closedByServerCount = 0
    private(set) var retryCount = 0
    private(set) var openStreams = 0
    private var settledCount = 0
    private(set) var failureReasons: [String: Int] = [:]
    /// Microseconds from a client's first connect to its `200 text/event-stream` head.
    private(set) var timeToOpen = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)

    private var rampStartMicroseconds: UInt64 = 0
    private var rampEndMicroseconds: UInt64 = 0
    /// How long the ramp took, from the first connect to the last client open or given up.
    var rampSeconds: Double { Double(rampEndMicroseconds - rampStartMicroseconds) / 1_000_000 }
    private var rampWaiter: UnsafeContinuation<Void, Never>?
    private var rampDeadlinePassed = false
    private var runStartMicroseconds: UInt64 = 0
    private var phaseName = "ramp"
    private var progressTimer: ScheduledTimer?
    /// Gets every event a client parses (`fanout`); nil: events are only counted.
    var eventSink: (any SSEEventSink)?
    /// Appended to each progress line (`fanout`: publish and delivery counts).
    var progressDetail: (() -> String)?
    private var rampTimer: ScheduledTimer?

    init(loop: EventLoop, address: SocketAddress, target: TargetURL, options: ConnectionOptions, mode: String) throws {
        self.loop = loop
        self.address = address
        self.target = target
        self.requestBytes = target.request
        self.options = options
        self.mode = mode
        connectTimeout = .milliseconds(Int64(options.connectTimeout * 1000))
        serverProbe = options.serverPid.map { ProcessProbe(pid: $0) }
        sourceHosts = options.sourceHosts(for: address)
        tls = try ClientTLS.make(enabled: options.tls, target: target, protocols: options.h2 ? ["h2"] : ["http/1.1"])
    }

    /// Why a transport could not be connected.
    struct ConnectFailure: Error {
        /// What went wrong (libuv's error name, or "TLS setup").
        var reason: String
        /// Whether another attempt may do better (a connect error; not a TLS setup failure).
        var isRetryable: Bool
    }

    /// Connects one transport for client or connection `index` (which picks its source
    /// address): TCP, and TLS over it when the run speaks TLS. `isWanted` is asked once TCP is
    /// up: when it says no (given up meanwhile), the late connection is closed and `completion`
    /// is not called.
    func connectTransport(
        for index: Int, isWanted: @escaping () -> Bool, completion: @escaping (Result<any Transport, ConnectFailure>) -> Void
    ) {
        TCPConnector.connect(loop: loop, to: address, timeout: connectTimeout, localHost: sourceHost(for: index)) { [self] result in
            switch result {
            case .success(let tcp):
                guard isWanted() else {
                    tcp.close()
                    return
                }
                guard let tls else { return completion(.success(tcp)) }
                guard let secured = tls.secure(tcp, loop: loop) else {
                    return completion(.failure(ConnectFailure(reason: "TLS setup", isRetryable: false)))
                }
                completion(.success(secured))
            case .failure(let error):
                completion(.failure(ConnectFailure(reason: error.name, isRetryable: true)))
            }
        }
    }

    /// The HTTP/2 connection that carries client `index`, or nil without `--h2`.
    func http2Connection(for index: Int) -> HTTP2LoadConnection? {
        http2Connections.isEmpty ? nil : http2Connections[index / options.streamsPerConnection]
    }

    /// The source address of client `index`, or nil for the kernel's choice.
    func sourceHost(for index: Int) -> String? {
        sourceHosts.isEmpty ? nil : sourceHosts[index % sourceHosts.count]
    }

    // MARK: Ramp

    /// Starts `options.connections` clients at the ramp rate (never more than `maxPending` in
    /// flight) and returns once every client is open or given up, or the ramp timeout passed.
    func openAll() async {
        loop.preconditionInEventLoop()
        runStartMicroseconds = monotonicMicroseconds()
        rampStartMicroseconds = runStartMicroseconds
        clients = (0..<options.connections).map { SSEClient(index: $0, driver: self) }
        if options.h2 {
            http2Connections = (0..<options.http2ConnectionCount).map { HTTP2LoadConnection(index: $0, driver: self) }
        }
        startProgress()
        let deadline = Duration.milliseconds(Int64(options.effectiveRampTimeout * 1000))
        let deadlineTimer = loop.schedule(after: deadline) { [self] in self.rampDeadline() }
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            rampWaiter = continuation
            rampTick()
        }
        deadlineTimer.cancel()
        rampTimer?.cancel()
        rampTimer = nil
        rampEndMicroseconds = monotonicMicroseconds()
    }

    private func rampTick() {
        rampTimer = nil
        guard !rampDeadlinePassed else { return }
        let elapsed = Double(monotonicMicroseconds() - rampStartMicroseconds) / 1_000_000
        let allowed = min(clients.count, Int(Double(options.ramp) * elapsed) + 1)
        while nextToStart < allowed && inFlight < options.maxPending {
            let client = clients[nextToStart]
            nextToStart += 1
            inFlight += 1
            client.connect()
        }
        if nextToStart < clients.count {
            rampTimer = loop.schedule(after: .milliseconds(5)) { [self] in self.rampTick() }
        }
    }

    /// The ramp took too long: whatever is not open now has failed.
    private func rampDeadline() {
        rampDeadlinePassed = true
        for client in clients where !client.settled {
            if client.isInFlight { inFlight -= 1 }
            client.markFailed()
            settle(client, failedFor: "ramp timeout")
        }
        nextToStart = clients.count
    }

    func streamOpened() { openStreams += 1 }
    func streamClosed() { openStreams -= 1 }

    func clientOpened(_ client: SSEClient) {
        inFlight -= 1
        openCount += 1
        timeToOpen.record(monotonicMicroseconds() - client.firstStartMicroseconds)
        settle(client, failedFor: nil)
    }

    func clientClosedByServer(_ client: SSEClient) {
        closedByServerCount += 1
    }

    /// One attempt failed: retry after a backoff while retries are left, else give up.
    func attemptFailed(_ client: SSEClient, reason: String, retryable: Bool) {
        inFlight -= 1
        if retryable && client.attempts <= options.retries && !rampDeadlinePassed {
            retryCount += 1
            client.markRetrying()
            let backoff = min(100 << (client.attempts - 1), 1_000)
            loop.schedule(after: .milliseconds(backoff)) { [self] in
                guard !self.rampDeadlinePassed, !client.settled else { return }
                self.inFlight += 1
                client.connect()
            }
            return
        }
        client.markFailed()
        settle(client, failedFor: reason)
    }

    private func settle(_ client: SSEClient, failedFor reason: String?) {
        guard !client.settled else { return }
        client.settled = true
        settledCount += 1
        if let reason {
            failedCount += 1
            failureReasons[reason, default: 0] += 1
        }
        if settledCount == clients.count, let waiter = rampWaiter {
            rampWaiter = nil
            waiter.resume()
        }
    }

    /// Clients whose head is late fail their attempt (and may retry).
    private func sweepHeadTimeouts() {
        let limit = UInt64(options.headTimeout * 1000)
        let now = loop.nowMilliseconds
        for client in clients where client.phase == .awaitingHead && now - client.connectedMilliseconds > limit {
            client.headTimedOut()
        }
    }

    // MARK: Progress

    func setPhase(_ name: String) { phaseName = name }

    private func startProgress() {
        progressTimer = loop.schedule(after: .seconds(1)) { [self] in self.progressTick() }
    }

    private func progressTick() {
        sweepHeadTimeouts()
        if !options.quiet { writeToStandardError(progressLine() + "\n") }
        progressTimer = loop.schedule(after: .seconds(1)) { [self] in self.progressTick() }
    }

    func stopProgress() {
        progressTimer?.cancel()
        progressTimer = nil
    }

    private func progressLine() -> String {
        let elapsed = Double(monotonicMicroseconds() - runStartMicroseconds) / 1_000_000
        var comments = 0
        var bytes = 0
        for client in clients {
            comments += client.comments
            bytes += client.bodyBytes
        }
        var line = "[rill-load \(mode) \(format(elapsed, 1))s] \(phaseName): open \(openCount - closedByServerCount)/\(clients.count)"
        line += " pending \(inFlight) retries \(retryCount) failed \(failedCount) closed-by-server \(closedByServerCount)"
        line += " comments \(comments) body \(bytes) B"
        if let serverProbe, let rss = serverProbe.residentBytes() { line += " server-rss \(format(Double(rss) / 1_048_576, 1)) MiB" }
        if let progressDetail { line += " " + progressDetail() }
        return line
    }

    // MARK: Teardown

    /// Closes every connection and waits (at most `limit`) for the handles to be freed.
    func closeAll(limit: Duration = .seconds(10)) async {
        setPhase("teardown")
        for client in clients { client.closeForTeardown() }
        for connection in http2Connections { connection.closeForTeardown() }
        let deadline = loop.nowMilliseconds + UInt64(limit.components.seconds) * 1000
        while openStreams > 0, loop.nowMilliseconds < deadline {
            try? await loop.sleep(for: .milliseconds(20))
        }
        stopProgress()
    }
}

/// Receives the events clients parse, on the loop thread.
protocol SSEEventSink: AnyObject {
    func client(_ client: SSEClient, received events: [MessageEvent])
}

/// `value` with `digits` decimals (no Foundation).
func format(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return "\(value)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    let whole = Int(scaled / scale)
    let fraction = Int(scaled - Double(whole) * scale)
    let sign = value < 0 && scaled != 0 ? "-" : ""
    guard digits > 0 else { return "\(sign)\(whole)" }
    var fractionText = String(fraction)
    while fractionText.count < digits { fractionText = "0" + fractionText }
    return "\(sign)\(whole).\(fractionText)"
}
