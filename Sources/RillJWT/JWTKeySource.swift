#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A key that verifies tokens, for ``JWTAuthorizer``.
///
/// ```swift
/// let keys: [JWTKeySource] = [.hmac(secret: "s3cret"), try .file(atPath: "/etc/rill/jwks.json")]
/// ```
public enum JWTKeySource: Sendable, Equatable {
    /// HS256 with this shared secret (its UTF-8 bytes, at least 32: RFC 7518 wants a key as
    /// large as the hash).
    case hmac(secret: String)
    /// RS256 or ES256 (P-256) with this PEM public key (`-----BEGIN PUBLIC KEY-----`); the kind
    /// is read from the key.
    case publicKeyPEM(String)
    /// The keys of a JSON Web Key Set (`{"keys": [...]}`), chosen by each token's `kid`.
    case jwks(String)

    /// The fewest bytes an HS256 secret may have: the size of the hash (RFC 7518, section 3.2).
    public static let minimumSecretBytes = 32

    /// The key in the file at `path`: a PEM public key, or a JWKS (JSON).
    ///
    /// - Throws: the file system's error, or ``JWTKeyError/unrecognizedFile(path:)`` when the
    ///   file is neither.
    public static func file(atPath path: String) throws -> JWTKeySource {
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
        let trimmed = text.drop { $0.isWhitespace }
        if trimmed.hasPrefix("-----BEGIN") { return .publicKeyPEM(String(trimmed)) }
        if trimmed.hasPrefix("{") { return .jwks(String(trimmed)) }
        throw JWTKeyError.unrecognizedFile(path: path)
    }
}

/// Why a key could not be used.
public enum JWTKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file is neither a PEM public key nor a JWKS.
    case unrecognizedFile(path: String)
    /// The PEM is neither an RSA nor a P-256 public key.
    case unsupportedPublicKey
    /// The HMAC secret has fewer than ``JWTKeySource/minimumSecretBytes`` bytes (its length).
    case secretTooShort(bytes: Int)
    /// The JWKS could not be read (its reason).
    case invalidJWKS(String)
    /// No key was given.
    case noKeys

    /// The reason, for an error message.
    public var description: String {
        switch self {
        case .unrecognizedFile(let path): "\(path): neither a PEM public key nor a JWKS (JSON with \"keys\")"
        case .unsupportedPublicKey: "the PEM public key is neither RSA (RS256) nor P-256 (ES256)"
        case .secretTooShort(let bytes):
            "the HMAC secret has \(bytes) bytes; HS256 needs at least \(JWTKeySource.minimumSecretBytes) (RFC 7518, 3.2)"
        case .invalidJWKS(let reason): "the JWKS cannot be used: \(reason)"
        case .noKeys: "a JWTAuthorizer needs at least one key"
        }
    }
}
