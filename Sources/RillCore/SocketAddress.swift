internal import CLibUV

#if canImport(Glibc)
    import Glibc
#endif

/// An IPv4 or IPv6 address and port.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// The numeric host, such as `127.0.0.1` or `::1`.
    public let host: String
    /// The port number.
    public let port: Int
    /// Whether the address is IPv6.
    public let isIPv6: Bool

    public init(host: String, port: Int, isIPv6: Bool) {
        self.host = host
        self.port = port
        self.isIPv6 = isIPv6
    }

    /// `host:port`, with brackets around IPv6 hosts, as in a URL.
    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    init?(_ storage: UnsafePointer<sockaddr_storage>) {
        switch Int32(storage.pointee.ss_family) {
        case AF_INET:
            // Formatted by hand: every accepted connection comes through here, and
            // inet_ntop goes through printf.
            let (address, port) = storage.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                (UInt32(bigEndian: $0.pointee.sin_addr.s_addr), Int(UInt16(bigEndian: $0.pointee.sin_port)))
            }
            self.init(host: Self.dottedQuad(address), port: port, isIPv6: false)
        case AF_INET6:
            let name = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer -> (String, Int)? in
                storage.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    guard uv_ip6_name(address, buffer.baseAddress!, buffer.count) == 0 else { return nil }
                    return (String(cString: buffer.baseAddress!), Int(UInt16(bigEndian: address.pointee.sin6_port)))
                }
            }
            guard let (host, port) = name else { return nil }
            self.init(host: host, port: port, isIPv6: true)
        default:
            return nil
        }
    }

    /// `a.b.c.d` for a host-order IPv4 address (at most 15 bytes: a small string, no allocation).
    package static func dottedQuad(_ address: UInt32) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { buffer in
            var count = 0
            for shift in stride(from: 24, through: 0, by: -8) {
                var octet = Int((address >> UInt32(shift)) & 0xff)
                if octet >= 100 {
                    buffer[count] = UInt8(48 + octet / 100)
                    count += 1
                    octet %= 100
                    buffer[count] = UInt8(48 + octet / 10)
                    count += 1
                } else if octet >= 10 {
                    buffer[count] = UInt8(48 + octet / 10)
                    count += 1
                }
                buffer[count] = UInt8(48 + octet % 10)
                count += 1
                if shift > 0 {
                    buffer[count] = 46
                    count += 1
                }
            }
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[0..<count]), as: UTF8.self)
        }
    }

    /// Resolves `host` (a numeric address, `localhost`, or a name) and `port` to socket
    /// addresses, numeric forms first without any lookup.
    static func resolve(host: String, port: Int) throws(UVError) -> [sockaddr_storage] {
        var storage = sockaddr_storage()
        let lookup = host == "localhost" ? "127.0.0.1" : host
        let v4 = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { uv_ip4_addr(lookup, Int32(port), $0) }
        }
        if v4 == 0 { return [storage] }
        let v6 = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { uv_ip6_addr(lookup, Int32(port), $0) }
        }
        if v6 == 0 { return [storage] }
        // A host name: resolve it once, at bind time, with the system resolver.
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_ADDRCONFIG
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &result)
        guard rc == 0, let first = result else {
            throw UVError(Int32(UV_EAI_NONAME.rawValue), "resolving host \(host)")
        }
        defer { freeaddrinfo(first) }
        var addresses: [sockaddr_storage] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            var entry = sockaddr_storage()
            withUnsafeMutableBytes(of: &entry) { raw in
                raw.copyMemory(from: UnsafeRawBufferPointer(start: info.pointee.ai_addr, count: Int(info.pointee.ai_addrlen)))
            }
            addresses.append(entry)
            cursor = info.pointee.ai_next
        }
        return addresses
    }
}
