import RillCore
import RillTLS

/// `--tls` (or an `https://` URL): every connection of the harness speaks TLS over its TCP
/// stream, through RillTLS's client transport on the harness's loop, offering `http/1.1` in
/// ALPN (`h2` with `--h2`) and sending the URL's host as SNI. The server's certificate is not verified: the
/// harness measures servers on this machine, with self-signed certificates.
struct ClientTLS {
    let context: TLSContext
    /// The SNI name: the URL's host.
    let serverName: String

    /// A client TLS setup for `target` offering `protocols` in ALPN, or nil when neither
    /// `enabled` nor the URL asks for TLS.
    static func make(enabled: Bool, target: TargetURL, protocols: [String] = ["http/1.1"]) throws -> ClientTLS? {
        guard enabled || target.isTLS else { return nil }
        return ClientTLS(context: try TLSContext(clientOffering: protocols), serverName: target.host)
    }

    /// Wraps a connected stream; the handshake starts with the transport's first read or
    /// write. nil (the stream is closed) when OpenSSL could not make the connection.
    func secure(_ stream: TCPStream, loop: EventLoop) -> TLSTransport? {
        guard let transport = TLSTransport(connectingOver: stream, loop: loop, context: context, serverName: serverName) else {
            stream.close()
            return nil
        }
        return transport
    }
}
