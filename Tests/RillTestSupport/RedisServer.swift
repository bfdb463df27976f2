import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real `redis-server` for one test: started on a free loopback port with no persistence and
/// a directory of its own, killed when released. Tests never rely on a Redis that is already
/// running. ``kill()`` SIGKILLs it and ``start()`` brings it back on the same port;
/// ``suspend()`` and ``resume()`` stop and continue it.
///
/// A watcher started next to the server SIGKILLs it as soon as the test process is gone, so a
/// crashed or killed test run leaves no server behind. The server is spawned with an empty
/// signal mask: a thread of the concurrency pool blocks most signals, and a child would inherit
/// that.
package final class RedisServer: @unchecked Sendable {
    package private(set) var port: Int
    private let directory: String
    private var pid: pid_t?

    /// Starts a server and waits until it answers PING. A port picked by binding port 0 can be
    /// taken by someone else's outgoing connection before the server binds it; then another is
    /// tried.
    package init() throws {
        port = try freeLoopbackPort()
        directory = "/tmp/rill-redis-\(getpid())-\(port)"
        mkdir(directory, 0o700)
        for attempt in 1...5 {
            do {
                try start()
                return
            } catch let error as HarnessError where attempt < 5 && error.description.contains("exited at start") {
                port = try freeLoopbackPort()
            }
        }
    }

    deinit {
        kill()
        rmdir(directory)
    }

    package var url: String { "redis://127.0.0.1:\(port)/0" }

    /// Starts the server on ``port`` (again, after ``kill()``), waiting at most 10 s for PING.
    package func start() throws {
        guard let executable = redisServerExecutable else {
            throw HarnessError("redis-server is not installed (make test installs it: apt-get install redis-server)")
        }
        let pid = try spawnWatched([
            executable, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--dir", directory, "--loglevel", "warning",
        ])
        self.pid = pid
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if ping() { return }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                self.pid = nil
                throw HarnessError("redis-server exited at start on port \(port) (taken?)")
            }
            usleep(20_000)
        }
        throw HarnessError("redis-server did not answer PING on port \(port) within 10 s")
    }

    /// SIGKILLs the server and waits for it.
    package func kill() {
        guard let pid else { return }
        self.pid = nil
        Glibc.kill(pid, SIGCONT)  // a suspended server must run to die
        Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    /// SIGSTOPs the server: its connections stay open, nothing is read or answered.
    package func suspend() {
        if let pid { Glibc.kill(pid, SIGSTOP) }
    }

    /// SIGCONTs a server that ``suspend()`` stopped.
    package func resume() {
        if let pid { Glibc.kill(pid, SIGCONT) }
    }

    private func ping() -> Bool {
        exchange("PING\r\n", expecting: 7)?.hasPrefix("+PONG") == true
    }

    /// Sends raw RESP on a fresh connection and reads up to `expecting` bytes (1 s at most); nil
    /// when the server cannot be reached.
    package func exchange(_ request: String, expecting: Int) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        let bytes = Array(request.utf8)
        guard send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { return nil }
        var buffer = [UInt8](repeating: 0, count: expecting)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, expecting, Int32(MSG_WAITALL)) }
        return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : nil
    }

}

/// The `redis-server` binary on `PATH` (or in the usual directories), nil when not installed.
package let redisServerExecutable: String? = {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for directory in path.split(separator: ":") + ["/usr/bin", "/usr/local/bin", "/usr/sbin"] {
        let candidate = "\(directory)/redis-server"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}()

package func loopback(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
    return address
}

/// A loopback port nothing listens on right now: bind port 0, read the port, close.
package func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: \(errno)") }
    defer { close(fd) }
    var address = loopback(port: 0)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw HarnessError("bind: \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw HarnessError("getsockname: \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}
