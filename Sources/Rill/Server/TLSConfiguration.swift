// Why a TLS certificate or key could not be loaded (missing, unreadable, not PEM, a key that is
// not the certificate's): re-exported, so `catch let error as TLSConfigurationError` and its
// members need only `import Rill`.
@_exported import struct RillTLS.TLSConfigurationError

/// TLS for the server: the certificate chain and private key, as PEM files. Connections then
/// speak TLS 1.2 or 1.3 only (modern ciphers: Mozilla's "intermediate" set), and ALPN offers
/// `h2` (when ``HTTP2Configuration/isEnabledOverTLS``) and `http/1.1`.
///
/// The files are read when the application starts — a missing, unreadable or mismatched
/// certificate or key stops ``Application/start()`` with a `TLSConfigurationError` before it
/// listens — and again on `SIGHUP` (in ``Application/run()``) or
/// ``Application/reloadTLSCertificate()``: new connections get the new certificate, open ones
/// keep theirs, none is dropped.
///
/// ```swift
/// var configuration = ServerConfiguration(host: "0.0.0.0", port: 8443)
/// configuration.tls = TLSConfiguration(certificateChainPath: "cert.pem", privateKeyPath: "key.pem")
/// ```
public struct TLSConfiguration: Sendable, Hashable {
    /// The PEM file with the server's certificate first, then its intermediate certificates.
    public var certificateChainPath: String
    /// The PEM file with the certificate's private key (unencrypted: the server cannot ask for
    /// a passphrase).
    public var privateKeyPath: String

    /// TLS with the certificate chain and private key in these PEM files.
    public init(certificateChainPath: String, privateKeyPath: String) {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
    }
}
