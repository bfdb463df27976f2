/// Why a TLS certificate, key or context could not be loaded. Thrown when a server starts (so a
/// bad certificate stops it before it listens) and by a reload (which then keeps the old one).
public struct TLSConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, without the details.
    public enum Kind: Sendable, Hashable {
        /// The file does not exist.
        case missingFile
        /// The file exists but cannot be read (permissions, a directory).
        case unreadableFile
        /// The file holds no PEM certificate chain OpenSSL accepts.
        case invalidCertificate
        /// The file holds no PEM private key OpenSSL accepts (or an encrypted one).
        case invalidPrivateKey
        /// The private key is not the certificate's.
        case keyDoesNotMatchCertificate
        /// OpenSSL could not make or set up a context (out of memory, an unsupported setting).
        case contextSetupFailed
    }

    /// What went wrong.
    public let kind: Kind
    /// The file concerned, if any.
    public let path: String?
    /// OpenSSL's or the system's reason, if it gave one.
    public let reason: String?

    /// Creates an error; `reason` is OpenSSL's or the system's explanation.
    public init(_ kind: Kind, path: String?, reason: String? = nil) {
        self.kind = kind
        self.path = path
        self.reason = reason
    }

    public var description: String {
        let what: String
        switch kind {
        case .missingFile: what = "TLS file not found"
        case .unreadableFile: what = "TLS file cannot be read"
        case .invalidCertificate: what = "not a PEM certificate chain"
        case .invalidPrivateKey: what = "not a PEM private key (or an encrypted one)"
        case .keyDoesNotMatchCertificate: what = "the private key does not match the certificate"
        case .contextSetupFailed: what = "setting up OpenSSL failed"
        }
        var text = what
        if let path { text += ": \(path)" }
        if let reason, !reason.isEmpty { text += " (\(reason))" }
        return text
    }
}
