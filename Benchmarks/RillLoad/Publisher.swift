import RillCore

#if canImport(Glibc)
    import Glibc
#endif

/// Publishes numbered events with `POST` over keep-alive HTTP/1.1 connections on the harness's
/// loop (`rill-load fanout`). Each body is `seq=S t=T`, padded with ` pad=xxx…` to the payload
/// size. T (monotonic ns) is the moment just before the write back-to-back, and the event's
/// slot in rate mode — so a send delayed because every connection still waits for an answer
/// counts in the latency (no coordinated omission: a server that answers publishes slowly
/// cannot hide its backlog in the publisher). One request per connection at a time (no
/// pipelining): back-to-back mode sends the next event when the previous response arrived; rate
/// mode sends event i at start + i/R on any idle connection, or as soon as one frees up (late).
/// Loop-confined.
final class Publisher {
    let loop: EventLoop
    let address: SocketAddress
    let target: TargetURL
    let events: Int
    let rate: Double?
    let payloadBytes: Int
    let connectionCount: Int
    let connectTimeout: Duration
    /// TLS for the publish connections (`--tls`, an `https://` publish URL); nil: plain TCP.
    let tls: ClientTLS?

    /// Events whose request was written.
    private(set) var sent = 0
    /// Events answered 2xx.
    private(set) var acknowledged = 0
    /// Events answered otherwise, or whose connection failed before the answer.
    private(set) var failed = 0
    private(set) var failureReasons: [String: Int] = [:]
    /// Rate mode: events sent more than 5 ms after their slot (no idle connection, or a late timer).
    private(set) var late = 0
    private(set) var maxLagMicroseconds: UInt64 = 0
    /// `subscribers` of the first and the smallest answer (who the server says it reached).
    private(set) var firstSubscribers: Int?
    private(set) var minSubscribers: Int?
    /// Monotonic µs of the first write and of the last answer.
    private(set) var firstSendMicroseconds: UInt64 = 0
    private(set) var lastAnswerMicroseconds: UInt64 = 0
    /// Microseconds from a request's write to its answer.
    private(set) var answerTimes = [UInt64]()

    private var connections: [PublishConnection] = []
    private var startMicroseconds: UInt64 = 0
    private var timer: ScheduledTimer?
    private var reconnects = 0
    private var stopped = false
    private var waiter: UnsafeContinuation<Void, Never>?

    init(
        loop: EventLoop, address: SocketAddress, target: TargetURL, events: Int, rate: Double?, payloadBytes: Int,
        connections: Int, connectTimeout: Duration, tls: ClientTLS? = nil
    ) {
        self.loop = loop
        self.address = address
        self.target = target
        self.events = events
        self.rate = rate
        self.payloadBytes = payloadBytes
        self.connectionCount = connections
        self.connectTimeout = connectTimeout
        self.tls = tls
        answerTimes.reserveCapacity(min(events, 1_000_000))
    }

    var isDone: Bool { stopped || acknowledged + failed == events }
    var inFlight: Int { connections.reduce(0) { $0 + ($1.busy ? 1 : 0) } }

    /// Opens the connections; returns how many are up (at most `connectTimeout` each).
    func connect() async -> Int {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            var pending = connectionCount
            for index in 0..<connectionCount {
                let connection = PublishConnection(index: index, publisher: self)
                connections.append(connection)
                connection.open {
                    pending -= 1
                    if pending == 0 { continuation.resume() }
                }
            }
        }
        return connections.filter(\.isUp).count
    }

    /// Publishes every event; returns when all are answered (or failed), or `stop()` was called.
    func run() async {
        startMicroseconds = monotonicMicroseconds()
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            waiter = continuation
            pump()
        }
        timer?.cancel()
        timer = nil
    }

    /// Stops sending (the deadline passed); `run()` returns.
    func stop() {
        stopped = true
        finishIfDone()
    }

    func closeAll() {
        for connection in connections { connection.close() }
    }

    /// Sends whatever is due on idle connections, then arms the timer for the next slot.
    private func pump() {
        timer = nil
        guard !stopped else { return finishIfDone() }
        let now = monotonicMicroseconds()
        while sent < events {
            var due = now
            if let rate {
                due = startMicroseconds + UInt64(Double(sent) * 1_000_000 / rate)
                guard due <= now else { break }
            }
            guard let connection = connections.first(where: { $0.isUp && !$0.busy }) else { break }
            if rate != nil {
                let lag = now - due
                if lag > 5_000 { late += 1 }
                maxLagMicroseconds = max(maxLagMicroseconds, lag)
            }
            send(sent, on: connection, stampNanoseconds: rate == nil ? nil : due * 1_000)
        }
        if let rate, sent < events, !connections.allSatisfy({ !$0.isUp || $0.busy }) {
            let due = startMicroseconds + UInt64(Double(sent) * 1_000_000 / rate)
            let nowAfter = monotonicMicroseconds()
            let waitMicroseconds = due > nowAfter ? due - nowAfter : 0
            // Loop timers have 1 ms resolution: wake up at the slot's millisecond (or the next).
            timer = loop.schedule(after: .microseconds(Int64(waitMicroseconds))) { [self] in pump() }
        }
        finishIfDone()
    }

    private func send(_ sequence: Int, on connection: PublishConnection, stampNanoseconds: UInt64?) {
        var body = "seq=\(sequence) t="
        let time = monotonicNanoseconds()
        body += String(stampNanoseconds ?? time)
        if body.utf8.count + 5 < payloadBytes {
            body += " pad="
            body += String(repeating: "x", count: payloadBytes - body.utf8.count)
        }
        var request = "POST \(target.target) HTTP/1.1\r\nHost: \(target.authority)\r\nUser-Agent: rill-load\r\n"
        request += "Content-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
        request += body
        if sent == 0 { firstSendMicroseconds = time / 1_000 }
        sent += 1
        connection.send(Array(request.utf8), sentAtMicroseconds: time / 1_000)
    }

    // MARK: From the connections

    func answered(_ connection: PublishConnection, status: Int, body: [UInt8], sentAtMicroseconds: UInt64) {
        let now = monotonicMicroseconds()
        lastAnswerMicroseconds = now
        answerTimes.append(now - sentAtMicroseconds)
        if (200..<300).contains(status) {
            acknowledged += 1
            if let subscribers = Self.subscribers(in: body) {
                if firstSubscribers == nil { firstSubscribers = subscribers }
                minSubscribers = min(minSubscribers ?? subscribers, subscribers)
            }
        } else {
            failed += 1
            failureReasons["status \(status)", default: 0] += 1
        }
        pump()
    }

    /// The connection broke; an unanswered request counts as failed. Reconnects (at most 5 times
    /// in all) so the run can go on.
    func connectionFailed(_ connection: PublishConnection, reason: String, hadRequest: Bool) {
        if hadRequest {
            failed += 1
            failureReasons[reason, default: 0] += 1
        }
        if reconnects < 5 && !stopped && sent < events {
            reconnects += 1
            connection.open { [self] in pump() }
        } else {
            finishIfDone()
            if connections.allSatisfy({ !$0.isUp }) && sent < events {
                failureReasons["no connection", default: 0] += events - sent
                stopped = true
                finishIfDone()
            }
        }
    }

    private func finishIfDone() {
        guard stopped || acknowledged + failed == events, let waiter else { return }
        self.waiter = nil
        waiter.resume()
    }

    /// `"subscribers":N` in a small JSON answer.
    static func subscribers(in body: [UInt8]) -> Int? {
        let key = Array("\"subscribers\":".utf8)
        guard body.count > key.count else { return nil }
        for start in 0...(body.count - key.count) where body[start..<(start + key.count)].elementsEqual(key) {
            var index = start + key.count
            var value = 0
            var digits = 0
            while index < body.count, body[index] >= 48, body[index] <= 57, digits < 18 {
                value = value * 10 + Int(body[index] - 48)
                digits += 1
                index += 1
            }
            return digits > 0 ? value : nil
        }
        return nil
    }
}

/// One keep-alive connection of the ``Publisher``: one request at a time.
final class PublishConnection: TransportDelegate {
    let index: Int
    unowned let publisher: Publisher
    /// The connection: the TCP stream, or TLS over it.
    private var stream: (any Transport)?
    private var decoder = ResponseDecoder()
    private var body: [UInt8] = []
    private var sentAtMicroseconds: UInt64 = 0
    private(set) var busy = false
    private(set) var isUp = false

    init(index: Int, publisher: Publisher) {
        self.index = index
        self.publisher = publisher
    }

    func open(_ done: @escaping () -> Void) {
        isUp = false
        busy = false
        TCPConnector.connect(loop: publisher.loop, to: publisher.address, timeout: publisher.connectTimeout) { [self] result in
            switch result {
            case .success(let tcp):
                let stream: any Transport
                if let tls = publisher.tls {
                    guard let secured = tls.secure(tcp, loop: publisher.loop) else {
                        isUp = false
                        done()
                        return
                    }
                    stream = secured
                } else {
                    stream = tcp
                }
                self.stream = stream
                stream.delegate = self
                stream.startReading()
                isUp = true
            case .failure:
                isUp = false
            }
            done()
        }
    }

    func send(_ request: [UInt8], sentAtMicroseconds: UInt64) {
        busy = true
        decoder = ResponseDecoder()
        body.removeAll(keepingCapacity: true)
        self.sentAtMicroseconds = sentAtMicroseconds
        stream?.write(request)
    }

    func close() {
        isUp = false
        stream?.close()
    }

    func transport(_ stream: any Transport, didRead bytes: UnsafeRawBufferPointer) {
        guard busy else { return }
        do {
            _ = try decoder.feed(bytes) { chunk in
                if body.count < 4096 { body.append(contentsOf: chunk) }
            }
        } catch {
            fail("bad response (\(error))")
            return
        }
        if decoder.isEnded, let head = decoder.head {
            busy = false
            publisher.answered(self, status: head.status, body: body, sentAtMicroseconds: sentAtMicroseconds)
        }
    }

    func transport(_ stream: any Transport, didEndReadingWith error: UVError?) {
        fail(error?.name ?? "closed by server")
    }

    func transportDidDrain(_ stream: any Transport) {}

    func transportDidClose(_ stream: any Transport) {
        if self.stream === stream { self.stream = nil }
        if isUp { fail("closed") }
    }

    private func fail(_ reason: String) {
        guard isUp else { return }
        let hadRequest = busy
        isUp = false
        busy = false
        stream?.close()
        publisher.connectionFailed(self, reason: reason, hadRequest: hadRequest)
    }
}

/// Monotonic time in nanoseconds (the clock `monotonicMicroseconds` reads).
func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}
