/// How the server speaks HTTP/2 (RFC 9113), and its limits against the protocol's known
/// attacks. Every connection is HTTP/1.1 unless HTTP/2 is chosen by ALPN on TLS (`h2`) or by a
/// cleartext connection opening with the HTTP/2 preface ("prior knowledge", what
/// `curl --http2-prior-knowledge` and `h2load` send).
///
/// Each HTTP/2 stream is a request of its own: routes, request bodies, streamed bodies and
/// event streams work on it unchanged, with flow control per stream.
public struct HTTP2Configuration: Sendable {
    /// Whether TLS offers `h2` in ALPN (browsers speak HTTP/2 only over TLS). Default true.
    public var isEnabledOverTLS: Bool
    /// Whether a cleartext connection that opens with the HTTP/2 preface is served as HTTP/2
    /// (otherwise it gets HTTP/1.1's 505). Default true.
    public var acceptsPriorKnowledge: Bool
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`: the most streams a client may have open on one
    /// connection at once. A stream beyond is refused (`RST_STREAM` `REFUSED_STREAM`) while the
    /// client may not have seen the setting yet; a client that acknowledged it and still opens
    /// more is disconnected (`GOAWAY` `PROTOCOL_ERROR`, RFC 9113 §5.1.2). Default 128.
    public var maxConcurrentStreams: Int
    /// Rapid reset (CVE-2023-44487): how many `RST_STREAM` frames a client may send in a burst…
    public var maxResetStreamBurst: Int
    /// …and how many more per second after it. A client over that budget is sent `GOAWAY`
    /// (`ENHANCE_YOUR_CALM`) and disconnected. Defaults 200 and 50.
    public var maxResetStreamsPerSecond: Int
    /// CONTINUATION flood (CVE-2024-27316 and kin): the most CONTINUATION frames after one
    /// HEADERS frame; more end the connection. Default 8. The header block as a whole is also
    /// bounded by ``ServerConfiguration/maxHeaderBytes`` (`SETTINGS_MAX_HEADER_LIST_SIZE`).
    public var maxContinuationFrames: Int
    /// PING and SETTINGS floods: the most PING and SETTINGS frames a client may send per
    /// second; more end the connection (`GOAWAY` `ENHANCE_YOUR_CALM`). Default 100.
    public var maxPingAndSettingsFramesPerSecond: Int
    /// The most acknowledgements (PING and SETTINGS ACKs) queued for a client that does not
    /// read them; more end the connection. Default 1,000.
    public var maxQueuedControlFrames: Int
    /// `SETTINGS_INITIAL_WINDOW_SIZE`: how many bytes of a request body a client may send on a
    /// stream before the server acknowledges them (the window reopens as the body is taken).
    /// Default 65,535.
    public var initialStreamWindowBytes: Int
    /// The most response bytes the streams of one connection may hold back together (waiting
    /// for the client's flow-control windows or for the transport to drain). Past it, once the
    /// connection has sent what it could, the event streams holding the most are cut off as slow
    /// clients (`RST_STREAM` `CANCEL`; they reconnect and replay) and new streams are refused
    /// (`REFUSED_STREAM`) until it fits again. Each event stream is also held to
    /// ``EventStreamConfiguration/maxQueuedBytes`` on its own; without this bound one
    /// connection's 128 streams could hold 128 times that. Default 1 MiB.
    public var maxQueuedResponseBytes: Int

    /// Creates a configuration; every value has a production default.
    public init(
        isEnabledOverTLS: Bool = true,
        acceptsPriorKnowledge: Bool = true,
        maxConcurrentStreams: Int = 128,
        maxResetStreamBurst: Int = 200,
        maxResetStreamsPerSecond: Int = 50,
        maxContinuationFrames: Int = 8,
        maxPingAndSettingsFramesPerSecond: Int = 100,
        maxQueuedControlFrames: Int = 1000,
        initialStreamWindowBytes: Int = 65_535,
        maxQueuedResponseBytes: Int = 1024 * 1024
    ) {
        self.isEnabledOverTLS = isEnabledOverTLS
        self.acceptsPriorKnowledge = acceptsPriorKnowledge
        self.maxConcurrentStreams = maxConcurrentStreams
        self.maxResetStreamBurst = maxResetStreamBurst
        self.maxResetStreamsPerSecond = maxResetStreamsPerSecond
        self.maxContinuationFrames = maxContinuationFrames
        self.maxPingAndSettingsFramesPerSecond = maxPingAndSettingsFramesPerSecond
        self.maxQueuedControlFrames = maxQueuedControlFrames
        self.initialStreamWindowBytes = initialStreamWindowBytes
        self.maxQueuedResponseBytes = maxQueuedResponseBytes
    }
}
