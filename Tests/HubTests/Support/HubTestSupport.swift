import HubCore
import Rill
import RillTesting

/// A hub on 127.0.0.1 with a free port, for `app.test(.live)`.
func hub(
    token: String? = nil, corsOrigin: String? = nil, corsPrivateNetwork: Bool = false, history: Int = 1000,
    statsInterval: Duration = .milliseconds(100)
) throws -> Application {
    try Hub.makeApplication(
        HubOptions(
            host: "127.0.0.1", port: 0, history: history, corsOrigins: corsOrigin.map { [$0] }, token: token, statsInterval: statsInterval,
            corsAllowsPrivateNetwork: corsPrivateNetwork))
}

/// Polls `condition` every 5 ms until it holds or `timeout` passes; returns whether it held.
func eventually(within timeout: Duration = .seconds(5), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return await condition()
}

func subscriptions(_ app: Application) async -> Int { await app.broker.statistics().subscriptionCount }

/// The samples of a Prometheus text exposition: `name{labels}` → value; its TYPE lines as
/// `name` → `type`.
struct Exposition {
    var samples: [String: Double] = [:]
    var types: [String: String] = [:]
    var helps: [String: String] = [:]

    init(_ text: String) {
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# HELP ") {
                let parts = line.split(separator: " ", maxSplits: 3)
                if parts.count == 4 { helps[String(parts[2])] = String(parts[3]) }
            } else if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                if parts.count == 4 { types[String(parts[2])] = String(parts[3]) }
            } else if !line.hasPrefix("#"), let space = line.lastIndex(of: " ") {
                samples[String(line[..<space])] = Double(line[line.index(after: space)...])
            }
        }
    }
}

let replayField = HTTPField.Name("Rill-Replay")!
let lastEventIDField = HTTPField.Name("Last-Event-ID")!
