import Foundation
import RillTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A real `redis-server` for one test: started on a free loopback port with no persistence,
/// killed at the end. Tests never rely on a Redis that is already running.
///
/// A watcher started next to the server SIGKILLs it as soon as the test process is gone, so a
/// crashed or killed test run leaves no server behind. The server is spawned with an empty
/// signal mask: a thread of the concurrency pool blocks most signals, and a child would inherit
/// that.
final class RedisServer: @unchecked Sendable {
    private(set) var port: Int
    private let directory: String
    private var pid: pid_t?

    /// Starts a server and waits until it answers PING. A port picked by binding port 0 can be
    /// taken by someone else's outgoing connection before the server binds it; then another is tried.
    init() throws {
        port = try freeLoopbackPort()
        directory = "/tmp/rill-redis-\(getpid())-\(port)"
        mkdir(directory, 0o700)
        for attempt in 1...5 {
            do {
                try start()
                return
            } catch let error as RedisServerError where error.exitedAtStart && attempt < 5 {
                port = try freeLoopbackPort()
            }
        }
    }

    deinit {
        kill()
        rmdir(directory)
    }

    var url: String { "redis://127.0.0.1:\(port)/0" }

    /// Starts the server on ``port`` (again, after ``kill()``), waiting at most 10 s for PING.
    func start() throws {
        guard let executable = Self.executable else {
            throw RedisServerError("redis-server is not installed (make test installs it: apt-get install redis-server)")
        }
        let arguments = [
            executable, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--dir", directory, "--loglevel", "warning",
        ]
        let pid = try spawnWatched(arguments)
        self.pid = pid
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if ping() { return }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                self.pid = nil
                throw RedisServerError("redis-server exited at start on port \(port) (taken?)", exitedAtStart: true)
            }
            usleep(20_000)
        }
        kill()
        throw RedisServerError("redis-server did not answer PING on port \(port) within 10 s")
    }

    /// SIGKILLs the server (no goodbye to its clients) and reaps it; its port is free then.
    func kill() {
        guard let pid else { return }
        self.pid = nil
        Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    /// SIGSTOPs the server: its connections stay open, nothing is read or answered.
    func suspend() {
        if let pid { Glibc.kill(pid, SIGSTOP) }
    }

    /// SIGCONTs a server that ``suspend()`` stopped.
    func resume() {
        if let pid { Glibc.kill(pid, SIGCONT) }
    }

    /// Whether a `PING` on a fresh connection gets `+PONG`.
    private func ping() -> Bool {
        guard let response = try? exchange("PING\r\n", expecting: 7) else { return false }
        return response.hasPrefix("+PONG")
    }

    /// Sends raw RESP and reads up to `expecting` bytes (a blocking helper for setup checks).
    func exchange(_ request: String, expecting: Int) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
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

    private static var executable: String? { redisServerExecutable }
}

struct RedisServerError: Error, CustomStringConvertible {
    let description: String
    var exitedAtStart = false
    init(_ description: String, exitedAtStart: Bool = false) {
        self.description = description
        self.exitedAtStart = exitedAtStart
    }
}
