public import Rill

/// The Prometheus text exposition format (version 0.0.4) of the hub's counters.
///
/// Channel names are not exposed by default: they can be secrets (a per-user channel is a map
/// of who listens to what), and one label value per channel makes the series count unbounded.
/// With `maxChannelLabels` above 0 the channels with the most subscribers are named, no more.
public enum Metrics {
    /// `GET /metrics`: one HELP and one TYPE line per metric, then its samples.
    ///
    /// - Parameters:
    ///   - connectionsByLoop: each event loop's open connections, in loop order
    ///     (`ServerStatistics.connectionCountsByLoop`): one `rill_loop_connections{loop="N"}`
    ///     sample each, `N` as in the thread name `rill-loop-N`; empty leaves the family out.
    ///   - maxChannelLabels: how many channels, those with the most subscribers (ties by name),
    ///     get a `rill_channel_subscribers{channel="…"}` sample; 0 (the default) names none.
    public static func exposition(
        connections: Int, connectionsByLoop: [Int] = [], statistics: BrokerStatistics, slowClientDisconnects: Int = 0,
        acceptErrors: Int = 0, maxChannelLabels: Int = 0
    ) -> String {
        var text = ""
        family(
            &text, "rill_connections", "gauge", "Open client connections, this scrape's included.",
            ["rill_connections \(connections)"])
        if !connectionsByLoop.isEmpty {
            family(
                &text, "rill_loop_connections", "gauge",
                "Open client connections on each event loop (thread rill-loop-N); they add up to rill_connections.",
                connectionsByLoop.enumerated().map { loop, count in "rill_loop_connections{loop=\"\(loop)\"} \(count)" })
        }
        family(
            &text, "rill_subscribers", "gauge", "Open subscriptions, over all channels.",
            ["rill_subscribers \(statistics.subscriptionCount)"])
        family(
            &text, "rill_channels", "gauge", "Channels with at least one subscriber.",
            ["rill_channels \(statistics.subscribersPerChannel.values.filter { $0 > 0 }.count)"])
        if maxChannelLabels > 0 {
            let top = statistics.subscribersPerChannel.filter { $0.value > 0 }
                .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .prefix(maxChannelLabels)
            family(
                &text, "rill_channel_subscribers", "gauge",
                "Open subscriptions of the \(maxChannelLabels) channels with the most (--metrics-channels).",
                top.map { channel, count in "rill_channel_subscribers{channel=\"\(escapeLabelValue(channel))\"} \(count)" })
        }
        family(
            &text, "rill_events_published_total", "counter", "Events published.",
            ["rill_events_published_total \(statistics.publishedEventCount)"])
        family(
            &text, "rill_events_delivered_total", "counter", "Events handed to subscribers (one per subscriber per event).",
            ["rill_events_delivered_total \(statistics.deliveredEventCount)"])
        family(
            &text, "rill_events_dropped_total", "counter", "Events dropped from full subscriber buffers.",
            ["rill_events_dropped_total \(statistics.droppedEventCount)"])
        family(
            &text, "rill_slow_client_disconnects_total", "counter",
            "Subscribers disconnected for falling behind: too many bytes queued on the socket, or a full broker buffer.",
            ["rill_slow_client_disconnects_total \(statistics.slowConsumerDisconnectCount + slowClientDisconnects)"])
        family(
            &text, "rill_accept_errors_total", "counter",
            "Connections the listener failed to accept (out of file descriptors and similar).",
            ["rill_accept_errors_total \(acceptErrors)"])
        return text
    }

    /// A label value as the format wants it: backslash, double quote and line feed escaped.
    public static func escapeLabelValue(_ value: String) -> String {
        var result = ""
        for character in value.unicodeScalars {
            switch character {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            default: result.unicodeScalars.append(character)
            }
        }
        return result
    }

    private static func family(_ text: inout String, _ name: String, _ type: String, _ help: String, _ samples: [String]) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        for sample in samples { text += sample + "\n" }
    }
}
