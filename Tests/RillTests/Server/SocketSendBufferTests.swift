import Foundation
import Rill
import RillTesting
import Testing

/// `ServerConfiguration.socketSendBufferBytes`: the kernel send buffer of the server's sockets,
/// read back with `ss` (iproute2) from the kernel's own view of the server's end.
@Suite struct SocketSendBufferTests {
    /// The `tb` (send buffer) figure `ss -tm` reports for the server's end of the established
    /// connection whose server port is `port`.
    private func sendBuffer(ofServerPort port: Int) throws -> Int? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ss")
        process.arguments = ["-tmnH", "state", "established", "( sport = :\(port) )"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard let range = text.range(of: ",tb") else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }

    @Test func `the configured send buffer is what accepted sockets get, doubled by the kernel`() async throws {
        for configured in [nil, 100_000] as [Int?] {
            let router = Router()
            router.get("/ping") { _, _ in "pong" }
            let configuration = testConfiguration { $0.socketSendBufferBytes = configured }
            try await withLiveServer(router, configuration: configuration) { _, port in
                let buffer = try await converse(port: port) { connection in
                    try connection.send(request("/ping"))
                    _ = try connection.readResponse()
                    return try sendBuffer(ofServerPort: port)
                }
                if let configured {
                    #expect(buffer == 2 * configured)
                } else {
                    // The kernel's autotuning starts at tcp_wmem's default (16 KiB on Debian).
                    #expect(buffer != nil && buffer != 200_000, "\(String(describing: buffer))")
                }
            }
        }
    }
}
