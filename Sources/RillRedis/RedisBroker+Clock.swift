import RillCore
import RillPubSub

// The clock: every so often the broker has Redis move the last entry id up to its current
// millisecond and publish it to this process's own anchor channel, in one script
// (`RedisScripts.clock`). The message reaches the subscriber connection after every event
// published before it and before every event published after it (one connection, Redis's one
// order), so on receipt the newest position this process has seen (``RedisBroker/newestPush``)
// moves up to that id even when no channel it subscribes to had an event: start positions stay
// recent on a quiet connection, and a position older than the history's age — which a replay on
// a channel Redis forgot takes for a gap — never comes of quiet alone.
extension RedisBroker {
    /// How often the clock ticks: a quarter of the history's age, within 1 to 60 seconds.
    var clockInterval: Duration {
        .milliseconds(Int64(min(60_000, max(1_000, historyMaxAgeMilliseconds / 4))))
    }

    /// Asks Redis for a tick now (when both connections are up), then again after
    /// ``clockInterval`` while the broker runs. Called when the broker has started and whenever
    /// the subscriber connection's `SUBSCRIBE` of the anchor is confirmed (at start and after a
    /// reconnect), so that a tick is never published before the anchor can receive it. The
    /// broker's loop.
    func tickClock() {
        clockTimer?.cancel()
        guard lifecycle != .closed else { return }
        if command.isReady && subscriber.isReady {
            _ = command.send([bytes("EVAL"), bytes(RedisScripts.clock), bytes("2"), keys.lastID, keys.historyStart, keys.anchor]) { _ in }
        }
        clockTimer = eventLoop.schedule(after: clockInterval) { [weak self] in self?.tickClock() }
    }

    /// A message on the anchor channel: a tick's position.
    func clockTicked(_ payload: [UInt8]) {
        if let id = StreamID(bytes: payload[...]) { received(id) }
    }
}
