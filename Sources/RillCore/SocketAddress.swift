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
        var name = [CChar](repeating: 0, count: 64)
        switch Int32(storage.pointee.ss_family) {
        case AF_INET:
            let ok = storage.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                uv_ip4_name(address, &name, name.count) == 0 ? Int(UInt16(bigEndian: address.pointee.sin_port)) : nil
            }
            guard let port = ok else { return nil }
            self.init(host: Self.string(name), port: port, isIPv6: false)
        case AF_INET6:
            let ok = storage.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                uv_ip6_name(address, &name, name.count) == 0 ? Int(UInt16(bigEndian: address.pointee.sin6_port)) : nil
            }
            guard let port = ok else { return nil }
            self.init(host: Self.string(name), port: port, isIPv6: true)
        default:
            return nil
        }
    }

    private static func string(_ name: [CChar]) -> String {
        name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
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
