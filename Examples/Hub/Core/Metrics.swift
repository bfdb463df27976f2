public import Rill

/// The Prometheus text exposition format (version 0.0.4) of the hub's counters.
public enum Metrics {
    /// `GET /metrics`: one HELP and one TYPE line per metric, then its samples.
    public static func exposition(connections: Int, statistics: BrokerStatistics, slowClientDisconnects: Int = 0) -> String {
        var text = ""
        family(
            &text, "rill_connections", "gauge", "Open client connections, this scrape's included.",
            ["rill_connections \(connections)"])
        family(
            &text, "rill_subscribers", "gauge", "Open subscriptions per channel.",
            statistics.subscribersPerChannel.sorted { $0.key < $1.key }.map { channel, count in
                "rill_subscribers{channel=\"\(escapeLabelValue(channel))\"} \(count)"
            })
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
