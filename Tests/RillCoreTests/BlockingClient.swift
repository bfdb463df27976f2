#if canImport(Glibc)
    import Glibc
#endif

/// A plain blocking TCP client for tests: a real socket, independent of libuv.
final class BlockingClient {
    private(set) var fd: Int32

    init(port: Int, host: String = "127.0.0.1", receiveTimeoutSeconds: Int = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ClientError.system("socket", errno) }
        var timeout = timeval(tv_sec: receiveTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let error = errno
            close(fd)
            // A throwing init still runs deinit: make sure it does not close this number again.
            fd = -1
            throw ClientError.system("connect", error)
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw ClientError.system("send", errno) }
            offset += n
        }
    }

    /// Reads until `count` bytes arrived, EOF, or the receive timeout.
    func receive(atLeast count: Int) throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while result.count < count {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            guard n > 0 else { throw ClientError.system("recv", errno) }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    /// Reads until the peer closes (or the timeout).
    func receiveUntilClose() throws -> [UInt8] { try receive(atLeast: Int.max) }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }
}

enum ClientError: Error {
    case system(String, Int32)
}
