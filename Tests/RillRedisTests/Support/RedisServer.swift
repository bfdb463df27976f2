import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A real `redis-server` for one test: started on a free loopback port with no persistence,
/// killed at the end. Tests never rely on a Redis that is already running.
final class RedisServer: @unchecked Sendable {
    let port: Int
    private let directory: URL
    private var process: Process?

    /// Starts a server and waits (at most 10 s) until it answers PING.
    init() throws {
        port = try freeLoopbackPort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("rill-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    var url: String { "redis://127.0.0.1:\(port)/0" }

    /// Starts the server on ``port`` (again, after ``kill()``).
    func start() throws {
        guard let executable = Self.executable else {
            throw RedisServerError("redis-server is not installed (make test installs it: apt-get install redis-server)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--dir", directory.path, "--loglevel", "warning",
        ]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if ping() { return }
            guard process.isRunning else { throw RedisServerError("redis-server exited at start on port \(port)") }
            usleep(20_000)
        }
        throw RedisServerError("redis-server did not answer PING on port \(port) within 10 s")
    }

    /// SIGKILLs the server (no goodbye to its clients) and waits until it is gone.
    func kill() {
        guard let process, process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    func stop() { kill() }

    /// Whether a `PING` on a fresh connection gets `+PONG`.
    private func ping() -> Bool {
        guard let response = try? exchange("PING\r\n", expecting: 7) else { return false }
        return response.hasPrefix("+PONG")
    }

    /// Sends raw RESP and reads up to `expecting` bytes (a blocking helper for setup checks).
    func exchange(_ request: String, expecting: Int) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RedisServerError("socket: \(errno)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw RedisServerError("connect: \(errno)") }
        let bytes = Array(request.utf8)
        guard send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw RedisServerError("send: \(errno)") }
        var buffer = [UInt8](repeating: 0, count: expecting)
        var received = 0
        while received < expecting {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + received, expecting - received, 0) }
            guard count > 0 else { break }
            received += count
        }
        return String(decoding: buffer[..<received], as: UTF8.self)
    }

    private static let executable: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") + ["/usr/bin", "/usr/local/bin", "/usr/sbin"] {
            let candidate = "\(directory)/redis-server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }()
}

struct RedisServerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func loopback(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
    return address
}

/// A loopback port nothing listens on right now: bind port 0, read the port, close.
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw RedisServerError("socket: \(errno)") }
    defer { close(fd) }
    var address = loopback(port: 0)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw RedisServerError("bind: \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw RedisServerError("getsockname: \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}
