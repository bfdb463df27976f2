import ArgumentParser

/// `http://host[:port]/path?query` (or `https://`) split into what a request needs.
struct TargetURL: Sendable {
    /// Whether the URL is `https://` (the connection speaks TLS; see ``ClientTLS``).
    let isTLS: Bool
    let host: String
    let port: Int
    /// The request target: path plus query, at least `/`.
    let target: String
    /// The `Host` header value.
    let authority: String

    init(_ text: String) throws {
        isTLS = text.hasPrefix("https://")
        guard text.hasPrefix("http://") || isTLS else { throw ValidationError("only http:// and https:// URLs are supported: \(text)") }
        let rest = text.dropFirst(isTLS ? "https://".count : "http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        let target = slash == rest.endIndex ? "/" : String(rest[slash...])
        var host = authority
        var port = isTLS ? 443 : 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw ValidationError("bad IPv6 host in \(text)") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let value = Int(after.dropFirst()) else { throw ValidationError("bad port in \(text)") }
                port = value
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let value = Int(authority[authority.index(after: colon)...]) else { throw ValidationError("bad port in \(text)") }
            port = value
        }
        guard !host.isEmpty, (1...65535).contains(port) else { throw ValidationError("bad host or port in \(text)") }
        self.host = host
        self.port = port
        self.target = target
        self.authority = authority
    }

    /// The request every client sends.
    var request: [UInt8] {
        Array(
            "GET \(target) HTTP/1.1\r\nHost: \(authority)\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\nUser-Agent: rill-load\r\n\r\n"
                .utf8)
    }
}
