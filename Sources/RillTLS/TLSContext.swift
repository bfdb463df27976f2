internal import COpenSSL
internal import CRillTLS
import RillCore

#if canImport(Glibc)
    import Glibc
#endif

/// OpenSSL's settings for TLS connections: a server's certificate chain and private key (or a
/// client's trust), the protocol versions (TLS 1.2 and 1.3), the ciphers and the ALPN
/// protocols. One per server (every loop's connections share it) or per client.
///
/// A server context can ``reload()`` its certificate and key (on `SIGHUP`, say): connections
/// made afterwards use the new ones, connections already open keep theirs.
///
/// ```swift
/// let context = try TLSContext(
///     certificateChainPath: "cert.pem", privateKeyPath: "key.pem", applicationProtocols: ["h2", "http/1.1"])
/// let transport = TLSTransport(serving: tcpStream, loop: loop, context: context)
/// ```
public final class TLSContext: Sendable {
    /// Which side of the handshake the context's connections take.
    public enum Role: Sendable, Hashable {
        /// Accepts connections: presents a certificate, picks the ALPN protocol.
        case server
        /// Connects: offers ALPN protocols, verifies the server if given trusted certificates.
        case client
    }

    /// Which side the context's connections take.
    public let role: Role
    /// The PEM certificate chain (server), read again by ``reload()``.
    public let certificateChainPath: String?
    /// The PEM private key (server), read again by ``reload()``.
    public let privateKeyPath: String?
    /// The ALPN protocols, most preferred first (`["h2", "http/1.1"]`); empty: no ALPN.
    public let applicationProtocols: [String]

    /// OpenSSL's context; swapped by ``reload()`` under the lock, which ``makeConnection()``
    /// takes too, so a connection is never made from a context being freed. An `SSL` holds a
    /// reference to its context: a replaced one lives on until its last connection is freed.
    private let current: SanitizerVisibleMutex<ContextPointer>

    /// An `SSL_CTX *`, handed between threads only under ``current``'s lock.
    private struct ContextPointer: @unchecked Sendable {
        var pointer: OpaquePointer
    }

    /// The ciphers for TLS 1.2: Mozilla's "intermediate" configuration (forward secrecy,
    /// AEAD only), without the DHE suites, which would need DH parameters of their own. TLS
    /// 1.3's suites are OpenSSL's defaults (all AEAD).
    static let tls12Ciphers =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        + "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

    /// A server context presenting the certificate chain and private key in the PEM files.
    ///
    /// - Parameters:
    ///   - certificateChainPath: the server's certificate first, then its intermediates.
    ///   - privateKeyPath: the certificate's private key, unencrypted.
    ///   - applicationProtocols: what ALPN may select, most preferred first; a client offering
    ///     none of them gets no ALPN answer.
    /// - Throws: ``TLSConfigurationError`` naming the file and the reason: missing, unreadable,
    ///   not PEM, or a key that is not the certificate's.
    public init(certificateChainPath: String, privateKeyPath: String, applicationProtocols: [String] = ["http/1.1"])
        throws(TLSConfigurationError)
    {
        role = .server
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
        self.applicationProtocols = applicationProtocols
        let context = try Self.makeServerContext(
            certificateChainPath: certificateChainPath, privateKeyPath: privateKeyPath, applicationProtocols: applicationProtocols)
        current = SanitizerVisibleMutex(ContextPointer(pointer: context))
    }

    /// A client context offering `applicationProtocols` in ALPN.
    ///
    /// - Parameters:
    ///   - applicationProtocols: what to offer, most preferred first; empty: no ALPN.
    ///   - trustedCertificatesPath: PEM certificates to verify the server against (its name is
    ///     checked against the connection's server name); nil accepts any certificate, for load
    ///     generators and tests against self-signed servers.
    public init(clientOffering applicationProtocols: [String] = [], trustedCertificatesPath: String? = nil)
        throws(TLSConfigurationError)
    {
        role = .client
        certificateChainPath = nil
        privateKeyPath = nil
        self.applicationProtocols = applicationProtocols
        let context = try Self.makeClientContext(
            applicationProtocols: applicationProtocols, trustedCertificatesPath: trustedCertificatesPath)
        current = SanitizerVisibleMutex(ContextPointer(pointer: context))
    }

    deinit {
        current.withLock { SSL_CTX_free($0.pointer) }
    }

    /// Reads the certificate chain and key files again; connections made from now on present
    /// them, open ones keep what they have. Safe from any thread.
    ///
    /// - Throws: ``TLSConfigurationError`` when the files are not usable; the context keeps
    ///   the certificate it had.
    public func reload() throws(TLSConfigurationError) {
        guard role == .server, let certificateChainPath, let privateKeyPath else { return }
        let fresh = try Self.makeServerContext(
            certificateChainPath: certificateChainPath, privateKeyPath: privateKeyPath, applicationProtocols: applicationProtocols)
        let old = current.withLock { state in
            defer { state.pointer = fresh }
            return ContextPointer(pointer: state.pointer)
        }
        SSL_CTX_free(old.pointer)
    }

    /// A new `SSL *` from the current context, reading and writing through a transport BIO;
    /// nil when memory ran out. Safe from any thread.
    func makeConnection() -> OpaquePointer? {
        current.withLock { state in rill_tls_new_connection(state.pointer) }
    }

    // MARK: Making OpenSSL contexts

    private static func makeServerContext(
        certificateChainPath: String, privateKeyPath: String, applicationProtocols: [String]
    ) throws(TLSConfigurationError) -> OpaquePointer {
        try checkReadable(certificateChainPath)
        try checkReadable(privateKeyPath)
        let context = try makeContext(method: TLS_server_method())
        do throws(TLSConfigurationError) {
            ERR_clear_error()
            guard SSL_CTX_use_certificate_chain_file(context, certificateChainPath) == 1 else {
                throw TLSConfigurationError(.invalidCertificate, path: certificateChainPath, reason: openSSLErrors())
            }
            ERR_clear_error()
            guard SSL_CTX_use_PrivateKey_file(context, privateKeyPath, SSL_FILETYPE_PEM) == 1 else {
                let mismatch = ERR_peek_error()
                let isMismatch = ERR_GET_LIB(mismatch) == ERR_LIB_X509 && ERR_GET_REASON(mismatch) == X509_R_KEY_VALUES_MISMATCH
                throw TLSConfigurationError(
                    isMismatch ? .keyDoesNotMatchCertificate : .invalidPrivateKey, path: privateKeyPath, reason: openSSLErrors())
            }
            ERR_clear_error()
            guard SSL_CTX_check_private_key(context) == 1 else {
                throw TLSConfigurationError(.keyDoesNotMatchCertificate, path: privateKeyPath, reason: openSSLErrors())
            }
            if !applicationProtocols.isEmpty {
                let wire = wireFormat(applicationProtocols)
                guard rill_tls_ctx_set_server_alpn(context, wire, UInt32(wire.count)) == 1 else {
                    throw TLSConfigurationError(.contextSetupFailed, path: nil, reason: "ALPN: \(openSSLErrors())")
                }
            }
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        return context
    }

    private static func makeClientContext(
        applicationProtocols: [String], trustedCertificatesPath: String?
    ) throws(TLSConfigurationError) -> OpaquePointer {
        if let trustedCertificatesPath { try checkReadable(trustedCertificatesPath) }
        let context = try makeContext(method: TLS_client_method())
        do throws(TLSConfigurationError) {
            if let trustedCertificatesPath {
                ERR_clear_error()
                guard SSL_CTX_load_verify_locations(context, trustedCertificatesPath, nil) == 1 else {
                    throw TLSConfigurationError(.invalidCertificate, path: trustedCertificatesPath, reason: openSSLErrors())
                }
                SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
            } else {
                SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
            }
            if !applicationProtocols.isEmpty {
                let wire = wireFormat(applicationProtocols)
                // SSL_CTX_set_alpn_protos returns 0 on success.
                guard SSL_CTX_set_alpn_protos(context, wire, UInt32(wire.count)) == 0 else {
                    throw TLSConfigurationError(.contextSetupFailed, path: nil, reason: "ALPN: \(openSSLErrors())")
                }
            }
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        return context
    }

    /// A context with Rill's defaults: TLS 1.2–1.3, the ciphers, released buffers, no session
    /// cache, no renegotiation or compression, no passphrase prompt.
    private static func makeContext(method: OpaquePointer?) throws(TLSConfigurationError) -> OpaquePointer {
        ERR_clear_error()
        guard let context = SSL_CTX_new(method) else {
            throw TLSConfigurationError(.contextSetupFailed, path: nil, reason: openSSLErrors())
        }
        rill_tls_ctx_refuse_passwords(context)
        guard rill_tls_ctx_apply_defaults(context) == 1, SSL_CTX_set_cipher_list(context, tls12Ciphers) == 1 else {
            let reason = openSSLErrors()
            SSL_CTX_free(context)
            throw TLSConfigurationError(.contextSetupFailed, path: nil, reason: reason)
        }
        return context
    }

    /// Throws unless `path` names a readable regular file, with the system's reason.
    private static func checkReadable(_ path: String) throws(TLSConfigurationError) {
        var status = stat()
        guard stat(path, &status) == 0 else {
            let code = errno
            let kind: TLSConfigurationError.Kind = code == ENOENT || code == ENOTDIR ? .missingFile : .unreadableFile
            throw TLSConfigurationError(kind, path: path, reason: String(cString: strerror(code)))
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw TLSConfigurationError(.unreadableFile, path: path, reason: "not a regular file")
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw TLSConfigurationError(.unreadableFile, path: path, reason: String(cString: strerror(errno)))
        }
        close(descriptor)
    }

    /// ALPN's wire format: each name preceded by its length in one byte.
    static func wireFormat(_ protocols: [String]) -> [UInt8] {
        var wire: [UInt8] = []
        for name in protocols {
            let bytes = Array(name.utf8)
            precondition((1...255).contains(bytes.count), "an ALPN protocol name is 1 to 255 bytes")
            wire.append(UInt8(bytes.count))
            wire.append(contentsOf: bytes)
        }
        return wire
    }
}

/// The calling thread's OpenSSL error queue as one line (and empties it); "" when it is empty.
func openSSLErrors() -> String {
    var reasons: [String] = []
    while true {
        let code = ERR_get_error()
        guard code != 0 else { break }
        var text = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &text, text.count)
        reasons.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return reasons.joined(separator: "; ")
}
