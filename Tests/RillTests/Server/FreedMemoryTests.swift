import Rill
import RillTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What a burst leaves behind: `ServerConfiguration.freedMemoryCheckInterval` gives memory the
/// server freed back to the kernel; without it glibc keeps it resident.
@Suite struct FreedMemoryTests {
    /// The process's resident set in bytes (/proc/self/statm).
    static func residentBytes() -> Int {
        let fd = open("/proc/self/statm", O_RDONLY)
        guard fd >= 0 else { return -1 }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return -1 }
        // "size resident shared text lib data dt", in pages.
        let fields = String(decoding: buffer[..<count], as: UTF8.self).split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return -1 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Every 64th block of each burst, kept alive past it: the freed memory lies between live
    /// blocks, so glibc cannot give it back by shrinking its heap's top; only a trim inside the
    /// heap returns it (what a server's scattered long-lived objects cause).
    nonisolated(unsafe) static var pins: [[UInt8]] = []

    /// A router whose `/burst` allocates `megabytes` MiB in 4 KiB blocks on the loop thread (each
    /// written, so resident) and frees all but every 64th.
    static func burstRouter(megabytes: Int) -> Router {
        let router = Router()
        router.get("/burst") { _, _ in
            var blocks: [[UInt8]] = []
            blocks.reserveCapacity(megabytes * 256)
            for index in 0..<(megabytes * 256) { blocks.append([UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 4096)) }
            let total = blocks.reduce(0) { $0 + $1.count }
            pins.append(contentsOf: blocks.enumerated().lazy.filter { $0.offset % 64 == 63 }.map(\.element))
            blocks = []
            return "\(total)"
        }
        return router
    }

    @Test func `memory a burst freed goes back to the kernel within the check interval`() async throws {
        let configuration = testConfiguration {
            $0.freedMemoryCheckInterval = .milliseconds(100)
            $0.freedMemoryReturnThresholdBytes = 8 << 20
        }
        try await withLiveServer(Self.burstRouter(megabytes: 96), configuration: configuration) { app, port in
            // The first sample may already have returned what earlier work in this process
            // left: count the returns from here.
            let returnsBefore = await app.serverStatistics().freedMemoryReturnCount
            let before = Self.residentBytes()
            let body = try await converse(port: port) { connection in
                try connection.send(request("/burst", ["Connection: close"]))
                return try connection.readResponse().body
            }
            #expect(body == Array("\(96 << 20)".utf8))
            let afterBurst = Self.residentBytes()
            #expect(await eventually(within: .seconds(5)) { await app.serverStatistics().freedMemoryReturnCount > returnsBefore })
            let afterReturn = Self.residentBytes()
            // 96 MiB were resident and freed; at least half of it must have left the process.
            #expect(afterBurst - afterReturn >= 48 << 20, "RSS before \(before), after the burst \(afterBurst), after the return \(afterReturn)")
        }
    }

    /// Runs a 16 MiB burst on a server with `configuration`, waits 300 ms, and answers how many
    /// returns the server counted.
    func returnsAfterSmallBurst(_ configuration: ServerConfiguration) async throws -> Int {
        try await withLiveServer(Self.burstRouter(megabytes: 16), configuration: configuration) { app, port in
            _ = try await converse(port: port) { connection in
                try connection.send(request("/burst", ["Connection: close"]))
                return try connection.readResponse().body
            }
            try await Task.sleep(for: .milliseconds(300))
            return await app.serverStatistics().freedMemoryReturnCount
        }
    }

    @Test func `without a check interval nothing is returned and the counter stays at zero`() async throws {
        #expect(try await returnsAfterSmallBurst(testConfiguration { $0.freedMemoryCheckInterval = nil }) == 0)
    }

    @Test func `a small amount of freed memory is left alone`() async throws {
        let configuration = testConfiguration {
            $0.freedMemoryCheckInterval = .milliseconds(50)
            $0.freedMemoryReturnThresholdBytes = 512 << 20
        }
        #expect(try await returnsAfterSmallBurst(configuration) == 0)
    }
}
