#if canImport(Glibc)
    import Glibc
#endif

/// What the kernel holds for sockets, machine-wide (Linux): the pages in TCP socket buffers
/// (`/proc/net/sockstat`, `TCP: … mem`) and the slab objects every open TCP connection needs
/// (`/proc/slabinfo`, readable by root: the socket, its inode, file, dentry and epoll entry).
/// Differences between two snapshots, over connections whose both ends are on this machine
/// (loopback), give the kernel's memory per socket — the figure that, beside the server's RSS
/// per stream, a deployment with a million streams must budget.
struct KernelMemory: Sendable {
    /// Pages in TCP socket buffers (sockstat's `mem`), nil when unreadable.
    var tcpBufferPages: Int?
    /// Bytes of the slab caches in ``slabCaches`` (active objects × object size), nil when
    /// /proc/slabinfo is unreadable (not root).
    var socketSlabBytes: Int?

    /// The caches an open TCP socket has one object in (IPv4 and IPv6).
    static let slabCaches: Set<Substring> = [
        "TCP", "TCPv6", "sock_inode_cache", "filp", "dentry", "eventpoll_epi", "eventpoll_pwq",
    ]

    static func sample() -> KernelMemory {
        var memory = KernelMemory()
        if let text = readSmallFile("/proc/net/sockstat") {
            for line in text.split(separator: "\n") where line.hasPrefix("TCP:") {
                let fields = line.split(separator: " ")
                if let index = fields.firstIndex(of: "mem"), index + 1 < fields.count { memory.tcpBufferPages = Int(fields[index + 1]) }
            }
        }
        if let text = readSmallFile("/proc/slabinfo", limit: 1 << 20) {
            var bytes = 0
            // name active_objs num_objs objsize …
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ", maxSplits: 4, omittingEmptySubsequences: true)
                guard fields.count >= 4, slabCaches.contains(fields[0]), let active = Int(fields[1]), let size = Int(fields[3])
                else { continue }
                bytes += active * size
            }
            memory.socketSlabBytes = bytes
        }
        return memory
    }
}
