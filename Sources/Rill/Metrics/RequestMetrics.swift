import CoreMetrics
import HTTPTypes

#if canImport(Glibc)
    import Glibc
#endif

/// The per-request metrics of one loop's server: `rill_http_requests_total{method,status,protocol}`
/// and `rill_request_duration_seconds{protocol}`, recorded once per response head.
///
/// Loop-confined: the counters of the label combinations seen so far are cached in a plain
/// dictionary, so a request costs one hash lookup, one counter increment and one timer record
/// (no metrics-system lock, no allocation once a combination was seen).
final class RequestMetrics {
    /// The HTTP version a request came over: the bounded `protocol` label.
    enum HTTPProtocolLabel: Int {
        /// HTTP/1.0 or HTTP/1.1.
        case http1 = 0
        /// HTTP/2.
        case h2 = 1

        /// The label value.
        var value: String { self == .http1 ? "http1" : "h2" }
    }

    /// The factory the counters and timers are made by (the application's, or the bootstrapped
    /// metrics system's).
    private let factory: any MetricsFactory
    /// The counters made so far, keyed by ``key(method:statusCode:protocol:)``.
    private var requestCounters: [Int: Counter] = [:]
    /// `rill_request_duration_seconds` per protocol, in ``HTTPProtocolLabel`` order.
    private let durationTimers: [Timer]

    /// The methods counted by name; any other is counted as `other`, so a client cannot grow
    /// the number of series.
    static let methodLabels: [HTTPRequest.Method] = [.get, .head, .post, .put, .delete, .patch, .options, .connect, .trace]

    /// Creates the metrics of one server, reporting to `factory`.
    init(factory: any MetricsFactory) {
        self.factory = factory
        durationTimers = [HTTPProtocolLabel.http1, .h2].map {
            Timer(label: MetricName.requestDuration, dimensions: [("protocol", $0.value)], factory: factory)
        }
    }

    /// A monotonic clock reading in nanoseconds, for ``record(method:statusCode:protocol:startNanoseconds:)``.
    static func nowNanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }

    /// Counts one response and records how long it took since `startNanoseconds` (a
    /// ``nowNanoseconds()`` reading when the request was complete). Loop thread only.
    func record(method: HTTPRequest.Method, statusCode: Int, protocol: HTTPProtocolLabel, startNanoseconds: UInt64) {
        let methodIndex = Self.methodLabels.firstIndex(of: method) ?? Self.methodLabels.count
        count(methodIndex: methodIndex, statusCode: statusCode, protocol: `protocol`)
        let elapsed = Self.nowNanoseconds() &- startNanoseconds
        durationTimers[`protocol`.rawValue].recordNanoseconds(Int64(truncatingIfNeeded: elapsed))
    }

    /// Counts a response the server wrote before any handler could run — a malformed or
    /// over-long request (400, 413, 414, 431, 505…) or a connection over the cap (503), as
    /// `method="other"` (the method is unknown or was never read); a head its route refused
    /// before the body (`checkBeforeBody`), by its `method`. No duration: nothing was handled.
    /// Loop thread only.
    func recordRejected(statusCode: Int, protocol: HTTPProtocolLabel, method: HTTPRequest.Method? = nil) {
        let methodIndex = method.flatMap { Self.methodLabels.firstIndex(of: $0) } ?? Self.methodLabels.count
        count(methodIndex: methodIndex, statusCode: statusCode, protocol: `protocol`)
    }

    /// Increments the counter of a label combination, made on first use.
    private func count(methodIndex: Int, statusCode: Int, protocol: HTTPProtocolLabel) {
        let key = Self.key(methodIndex: methodIndex, statusCode: statusCode, protocol: `protocol`)
        if let counter = requestCounters[key] {
            counter.increment()
            return
        }
        let methodLabel = methodIndex < Self.methodLabels.count ? Self.methodLabels[methodIndex].rawValue : "other"
        let counter = Counter(
            label: MetricName.httpRequests, dimensions: [("method", methodLabel), ("status", String(statusCode)), ("protocol", `protocol`.value)],
            factory: factory)
        requestCounters[key] = counter
        counter.increment()
    }

    /// One integer per label combination: status codes are three digits, methods fewer than 16.
    private static func key(methodIndex: Int, statusCode: Int, protocol: HTTPProtocolLabel) -> Int {
        (`protocol`.rawValue << 20) | (methodIndex << 12) | (statusCode & 0xFFF)
    }
}
