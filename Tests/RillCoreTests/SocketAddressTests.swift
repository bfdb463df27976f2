import RillCore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct SocketAddressTests {
    /// What the C library writes for a host-order IPv4 address.
    private func inetNtop(_ address: UInt32) -> String {
        var raw = in_addr(s_addr: address.bigEndian)
        var buffer = [CChar](repeating: 0, count: 16)
        _ = inet_ntop(AF_INET, &raw, &buffer, 16)
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    @Test func `IPv4 hosts are formatted as inet_ntop does`() {
        var generator = SystemRandomNumberGenerator()
        let edges: [UInt32] = [0, 0x7f00_0001, 0xffff_ffff, 0x0a00_0a64, 0xc0a8_6409, 0x6465_0a00, 0x0109_5a63]
        for address in edges + (0..<2000).map({ _ in UInt32.random(in: .min ... .max, using: &generator) }) {
            #expect(SocketAddress.dottedQuad(address) == inetNtop(address))
        }
    }
}
