/// The limits an ``HTTP2Session`` enforces and advertises (see Rill's `HTTP2Configuration`,
/// which documents each default).
package struct HTTP2SessionLimits: Sendable {
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`.
    package var maxConcurrentStreams: Int
    /// `SETTINGS_INITIAL_WINDOW_SIZE`: request body bytes in flight per stream.
    package var initialStreamWindowBytes: Int
    /// `SETTINGS_MAX_HEADER_LIST_SIZE`, and the bound on a received header block (431 beyond;
    /// `GOAWAY` `ENHANCE_YOUR_CALM` beyond ``headerListBombFactor`` times it).
    package var maxHeaderListBytes: Int
    /// A header block decoding to more than this many times ``maxHeaderListBytes`` ends the
    /// connection (`ENHANCE_YOUR_CALM`) rather than being decoded to its end for a 431: HPACK
    /// lets a few wire bytes repeat a large dynamic-table entry thousands of times.
    package static let headerListBombFactor = 4
    /// Rapid reset: `RST_STREAM` frames allowed in a burst…
    package var maxResetStreamBurst: Int
    /// …and per second after it; beyond, `GOAWAY` `ENHANCE_YOUR_CALM`.
    package var maxResetStreamsPerSecond: Int
    /// CONTINUATION frames after one HEADERS frame.
    package var maxContinuationFrames: Int
    /// PING and SETTINGS frames per second.
    package var maxPingAndSettingsFramesPerSecond: Int
    /// Acknowledgements queued for a client that does not read them.
    package var maxQueuedControlFrames: Int

    /// Creates the limits.
    package init(
        maxConcurrentStreams: Int, initialStreamWindowBytes: Int, maxHeaderListBytes: Int, maxResetStreamBurst: Int,
        maxResetStreamsPerSecond: Int, maxContinuationFrames: Int, maxPingAndSettingsFramesPerSecond: Int, maxQueuedControlFrames: Int
    ) {
        self.maxConcurrentStreams = maxConcurrentStreams
        self.initialStreamWindowBytes = initialStreamWindowBytes
        self.maxHeaderListBytes = maxHeaderListBytes
        self.maxResetStreamBurst = maxResetStreamBurst
        self.maxResetStreamsPerSecond = maxResetStreamsPerSecond
        self.maxContinuationFrames = maxContinuationFrames
        self.maxPingAndSettingsFramesPerSecond = maxPingAndSettingsFramesPerSecond
        self.maxQueuedControlFrames = maxQueuedControlFrames
    }
}
