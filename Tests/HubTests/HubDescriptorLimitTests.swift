import Foundation
import Rill
import RillTestSupport
import RillTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `rill-hub` on several loops under a small open-file limit, as on a many-core machine whose
/// limit was left low: each loop holds descriptors of its own, which the connection cap must
/// leave room for, and running out of descriptors anyway must neither spin the loops nor stop
/// the hub.
@Suite struct HubDescriptorLimitTests {
    /// What `count` stream requests opened at once got, read after they all were sent: "200",
    /// "503", or how the connection failed.
    private func openStreams(_ count: Int, port: Int) async throws -> [String: Int] {
        try await onDedicatedThread { () -> [String: Int] in
            var connections: [RawConnection?] = []
            var outcomes: [String: Int] = [:]
            for _ in 0..<count {
                do {
                    let connection = try RawConnection(port: port, timeout: .seconds(3))
                    try connection.send("GET /stream?channel=fd HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    connections.append(connection)
                } catch {
                    outcomes["connect failed", default: 0] += 1
                }
            }
            usleep(1_500_000)
            for case let connection? in connections {
                let outcome: String
                do {
                    let head = String(decoding: try connection.receive(atLeast: 12).prefix(12), as: UTF8.self)
                    outcome = head.hasPrefix("HTTP/1.1 ") ? String(head.dropFirst(9).prefix(3)) : "other: \(head)"
                } catch {
                    outcome = "no answer (\(error))".prefix(40).description
                }
                outcomes[outcome, default: 0] += 1
                connection.close()
            }
            return outcomes
        }
    }

    private func acceptErrors(of hub: HubProcess) async throws -> Double? {
        Exposition(try await hub.client.get("/metrics").bodyText).samples["rill_accept_errors_total"]
    }

    @Test func `beyond what the open-file limit holds next to ten loops' own descriptors, a connection gets a 503`() async throws {
        // 300 descriptors: 10 loops hold about 7 each and the process about 12; the cap must
        // leave them (and the lingering refusals) out, or accepts fail and clients are reset.
        let hub = try await HubProcess(["--loops", "10"], openFileLimit: 300)
        let outcomes = try await openStreams(260, port: hub.port)
        #expect(Set(outcomes.keys).isSubset(of: ["200", "503"]), "\(outcomes)")
        #expect((outcomes["200"] ?? 0) > 0 && (outcomes["503"] ?? 0) > 0, "\(outcomes)")
        #expect(try await acceptErrors(of: hub) == 0)
        #expect(try await hub.terminate() == "exit status 0")
    }

    @Test func `out of descriptors with ten loops, the loops do not spin and the hub keeps serving`() async throws {
        // 100 descriptors: the cap is 1 and refusals linger, so accepts do run out. libuv then
        // calls each loop's listener back at once for as long as a connection waits; a loop
        // whose spare descriptor another loop took could not shed it and spun (millions of
        // accept errors a second, a loop serving nothing else).
        let hub = try await HubProcess(["--loops", "10"], openFileLimit: 100)
        let outcomes = try await openStreams(250, port: hub.port)
        #expect((outcomes["503"] ?? 0) > 0, "\(outcomes)")
        // Once the clients left, the one connection the cap allows is free again (a refused
        // attempt meanwhile, or one made while a listener is suspended, is retried).
        let client = hub.client
        let serving = await eventually(within: .seconds(10)) { (try? await client.get("/health").status) == .ok }
        #expect(serving)
        var errors: Double?
        _ = await eventually(within: .seconds(10)) {
            errors = try? await acceptErrors(of: hub)
            return errors != nil
        }
        let counted = try #require(errors)
        #expect(counted < 20_000, "accept errors while 250 clients waited 1.5 s: \(counted)")
        // How the hub stops after such a flood is not this test's subject (see the session
        // notes): it is killed.
        hub.process.kill(SIGKILL)
    }
}
