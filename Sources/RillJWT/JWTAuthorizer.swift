import JWTKit
public import Rill
import RillCore
import RillPubSub

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Verifies a request's JWT and authorizes its channels from the token's claims
/// (``RillClaims``): HS256 with a secret, RS256 or ES256 with a PEM public key, or the keys of
/// a JWKS.
///
/// ```swift
/// let jwt = try await JWTAuthorizer(keys: [.hmac(secret: "s3cret")])
/// app.authorizeChannels(with: jwt)                        // patterns → 403
/// router.add(middleware: JWTAuthenticationMiddleware(jwt)) // 401; streams end at `exp`
/// router.get("/stream") { request, context in try await context.eventStream(for: request) }
/// ```
///
/// The token is read from, in order: `Authorization: Bearer …`, the cookie ``cookieName``
/// on `GET` and `HEAD` (so a browser `EventSource` with `withCredentials` sends it; never on a
/// `POST`, which a cross-site form can make with the user's cookies), then the `token` query
/// parameter (accepted, but ``LogRequestsMiddleware`` logs it as `REDACTED`). Several cookies
/// of that name (one planted by another site of the same domain, with a longer path, comes
/// first) are tried in order, up to four. Over HTTPS, name the cookie `__Host-rill_token`
/// (`cookieName:`, rill-hub's `--jwt-cookie`) and set it with `Secure` and `Path=/`: the browser
/// then accepts it only from this host, so no sibling site can plant one.
///
/// A stream opened with a token ends when the token does: at `exp` (plus ``leeway``) it sends
/// a final `event: rill-token-expired` with `data: {"reason":"token expired","exp":…}`
/// and the response ends; the client gets a fresh token and reconnects with its
/// `Last-Event-ID`, and the broker's history replays what it missed.
public final class JWTAuthorizer: Sendable {
    /// The most cookies named ``cookieName`` one request has verified (a request may carry
    /// many; each costs a signature check).
    static let maxCookieTokensTried = 4

    /// The cookie a browser sends the token in, unless configured otherwise.
    public static let defaultCookieName = "rill_token"
    /// The event type of the event that ends a stream whose token expired.
    public static let expiredEventName = "rill-token-expired"

    /// The name of the cookie that carries the token.
    public let cookieName: String
    /// How far past `exp` (and before `nbf`) a token is still accepted: the clocks of the
    /// token's issuer and of this server may disagree a little.
    public let leeway: Duration
    /// The keys by the one algorithm each verifies: a token is checked only with the keys of the
    /// `alg` its header names, so that `alg` must match the key.
    private let keysByAlgorithm: [String: JWTKeyCollection]

    /// The algorithms a key may verify.
    static let supportedAlgorithms = ["HS256", "RS256", "ES256"]

    /// An authorizer that accepts tokens signed with any of `keys`.
    ///
    /// - Parameters:
    ///   - keys: the verification keys; a token naming a `kid` is checked with that key first.
    ///   - cookieName: the cookie that carries the token (default `rill_token`).
    ///   - leeway: tolerance for `exp` and `nbf` (default none).
    /// - Throws: ``JWTKeyError`` for an unusable key.
    public init(keys: [JWTKeySource], cookieName: String = defaultCookieName, leeway: Duration = .zero) async throws {
        guard !keys.isEmpty else { throw JWTKeyError.noKeys }
        var collections: [String: JWTKeyCollection] = [:]
        func collection(for algorithm: String) -> JWTKeyCollection {
            if let existing = collections[algorithm] { return existing }
            let created = JWTKeyCollection()
            collections[algorithm] = created
            return created
        }
        for (index, key) in keys.enumerated() {
            // A kid per key, so that a token without one is tried against every key.
            let kid = JWKIdentifier(string: "rill-key-\(index)")
            switch key {
            case .hmac(let secret):
                guard secret.utf8.count >= JWTKeySource.minimumSecretBytes else {
                    throw JWTKeyError.secretTooShort(bytes: secret.utf8.count)
                }
                await collection(for: "HS256").add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256, kid: kid)
            case .publicKeyPEM(let pem):
                if let rsa = try? Insecure.RSA.PublicKey(pem: pem) {
                    await collection(for: "RS256").add(rsa: rsa, digestAlgorithm: .sha256, kid: kid)
                } else if let ecdsa = try? ES256PublicKey(pem: pem) {
                    await collection(for: "ES256").add(ecdsa: ecdsa, kid: kid)
                } else {
                    throw JWTKeyError.unsupportedPublicKey
                }
            case .jwks(let json):
                let jwks: JWKS
                do {
                    jwks = try JSONDecoder().decode(JWKS.self, from: Data(json.utf8))
                } catch {
                    throw JWTKeyError.invalidJWKS("\(error)")
                }
                for var jwk in jwks.keys {
                    // Each key's algorithm is fixed here, from its `alg` or its type: a key
                    // without one would otherwise take the first token's `alg`, unverified, for
                    // good (jwt-kit builds such a key's verifier on first use).
                    let algorithm = try Self.algorithm(of: jwk)
                    jwk.algorithm = JWK.Algorithm(rawValue: algorithm)
                    do {
                        try await collection(for: algorithm).add(jwk: jwk)
                    } catch {
                        throw JWTKeyError.invalidJWKS("\(error)")
                    }
                }
            }
        }
        keysByAlgorithm = collections
        self.cookieName = cookieName
        self.leeway = leeway
    }

    // MARK: Reading and verifying

    /// The request's token: `Authorization: Bearer`, else the cookie (on `GET` and `HEAD`
    /// only), else `?token=`; nil if none.
    ///
    /// The cookie is for what a browser's `EventSource` cannot otherwise send. It is not read on
    /// other methods: a browser attaches cookies to a cross-site form `POST` as well, so a
    /// cookie on `POST /publish` would let any page publish with the user's rights (CSRF).
    /// Publish with `Authorization`.
    public func token(in request: Request) -> String? {
        candidateTokens(in: request).first
    }

    /// The tokens to try, in order: the bearer token, else every cookie named ``cookieName``
    /// (a browser sends the one with the most specific path first, and another site of the same
    /// domain can plant one with a longer path: each is tried until one verifies), else
    /// `?token=`.
    func candidateTokens(in request: Request) -> [String] {
        if let authorization = request.headerFields[.authorization] {
            let scheme = "bearer "
            if authorization.count > scheme.count, authorization.prefix(scheme.count).lowercased() == scheme {
                let token = authorization.dropFirst(scheme.count).drop { $0 == " " }
                if !token.isEmpty { return [String(token)] }
            }
        }
        if readsCookie(of: request) {
            let cookies = request.cookies.filter { $0.name == cookieName && !$0.value.isEmpty }.map(\.value)
            if !cookies.isEmpty { return cookies }
        }
        if let query = request.query["token"], !query.isEmpty { return [query] }
        return []
    }

    /// Verifies `token`'s signature (with the keys of the algorithm its header names), `exp`
    /// (required) and `nbf`, and reads its claims.
    ///
    /// - Throws: ``JWTVerificationError`` saying why the token is refused.
    public func verify(_ token: String) async throws(JWTVerificationError) -> RillClaims {
        guard let algorithm = Self.headerAlgorithm(of: token) else { throw .malformed }
        guard let keys = keysByAlgorithm[algorithm] else { throw .unacceptedAlgorithm }
        let payload: RillTokenPayload
        do {
            payload = try await keys.verify(token, as: RillTokenPayload.self, iteratingKeys: true)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw .invalidSignature
        } catch {
            throw .malformed
        }
        guard let expiration = payload.exp?.value else { throw .missingExpiration }
        let now = Date()
        let leewaySeconds = leeway.secondsAsDouble
        guard now.timeIntervalSince(expiration) < leewaySeconds else { throw .expired }
        if let notBefore = payload.nbf?.value, notBefore.timeIntervalSince(now) > leewaySeconds { throw .notYetValid }
        do {
            return RillClaims(
                subject: payload.sub?.value, expiration: expiration,
                subscribe: try (payload.rill?.subscribe ?? []).map { try ChannelPattern($0) },
                publish: try (payload.rill?.publish ?? []).map { try ChannelPattern($0) })
        } catch let error as ChannelPatternError {
            throw .invalidPattern(error.description)
        } catch {
            throw .malformed
        }
    }

    // MARK: Requests

    /// Verifies the request's token and keeps its claims in `context` (``RequestContext/rillClaims``)
    /// for the channel authorization; every event stream the request opens ends at the token's
    /// expiry (``RequestContext/eventStreamDeadline``) and is listed in presence under the
    /// token's `sub` (``RequestContext/presenceIdentity``; anonymous without one).
    ///
    /// - Throws: ``HTTPError`` 401 with a JSON body and `WWW-Authenticate: Bearer` when the
    ///   token is missing or refused (the body says why; never the token).
    @discardableResult
    public func authenticate(_ request: Request, context: inout RequestContext) async throws -> RillClaims {
        let claims = try await claims(for: request)
        context.rillClaims = claims
        context.presenceIdentity = claims.subject
        context.limitEventStreams(to: deadline(for: claims))
        return claims
    }

    /// The verified claims of `request`'s token: those ``authenticate(_:context:)`` already
    /// verified, else verified now.
    ///
    /// - Throws: ``HTTPError`` 401 (see ``authenticate(_:context:)``).
    public func claims(for request: Request) async throws -> RillClaims {
        let tokens = candidateTokens(in: request)
        guard !tokens.isEmpty else {
            throw Self.unauthorized(.missingToken, cookieName: readsCookie(of: request) ? cookieName : nil)
        }
        var firstError: JWTVerificationError?
        for token in tokens.prefix(Self.maxCookieTokensTried) {
            do {
                return try await verify(token)
            } catch {
                firstError = firstError ?? error
            }
        }
        throw Self.unauthorized(firstError ?? .malformed, cookieName: cookieName)
    }

    /// The channel authorization hook (``ChannelAuthorizer``): whether the token's claims allow
    /// `access` to `channel`. Uses the claims ``authenticate(_:context:)`` kept in the context,
    /// else verifies the request's token.
    ///
    /// - Throws: ``HTTPError`` 401 when the request has no valid token.
    public func authorize(_ request: Request, context: RequestContext, channel: String, access: ChannelAccess) async throws -> Bool {
        let claims: RillClaims
        if let verified = context.rillClaims {
            claims = verified
        } else {
            claims = try await self.claims(for: request)
        }
        return claims.allows(access, to: channel)
    }

    /// Where a stream opened with `claims` ends: at `exp` plus the leeway — when the token
    /// stops being accepted, so the client's reconnect with the same token gets 401, not a
    /// stream that ends at once — with the `rill-token-expired` event.
    public func deadline(for claims: RillClaims) -> EventStreamDeadline {
        // An `exp` decades away (or written in nanoseconds by mistake) is a stream without end
        // for any purpose: the deadline is capped, never converted past what 64 bits hold.
        let remainingSeconds = min(claims.expiration.timeIntervalSinceNow, Self.maximumStreamSeconds)
        let remaining = Duration.milliseconds(Int64((remainingSeconds * 1000).rounded(.up))) + leeway
        let expirySeconds = claims.expiration.timeIntervalSince1970.rounded(.down)
        let expiry = expirySeconds < 9.0e18 ? Int64(expirySeconds) : Int64.max
        let event = ServerSentEvent(data: #"{"reason":"token expired","exp":\#(expiry)}"#, event: Self.expiredEventName)
        return EventStreamDeadline(.now + remaining, finalEvent: event)
    }

    /// The longest a token's stream deadline lies ahead (ten years).
    static let maximumStreamSeconds = 10 * 365 * 86_400.0

    /// The `alg` of `token`'s header; nil when the header is not base64url JSON with one.
    static func headerAlgorithm(of token: String) -> String? {
        guard let dot = token.utf8.firstIndex(of: UInt8(ascii: ".")) else { return nil }
        var base64 = String(token[..<dot]).replacing("-", with: "+").replacing("_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        guard let bytes = Data(base64Encoded: base64) else { return nil }
        struct Header: Decodable { var alg: String }
        return try? JSONDecoder().decode(Header.self, from: bytes).alg
    }

    /// The one algorithm a JWKS key verifies: its `alg`, else the one its type implies (RSA:
    /// RS256, EC P-256: ES256).
    static func algorithm(of jwk: JWK) throws -> String {
        let name = jwk.keyIdentifier.map { "key '\($0.string)'" } ?? "a key without 'kid'"
        if let algorithm = jwk.algorithm?.rawValue {
            guard supportedAlgorithms.contains(algorithm) else {
                throw JWTKeyError.invalidJWKS("\(name) has 'alg' \(algorithm); supported: RS256, ES256")
            }
            return algorithm
        }
        switch (jwk.keyType, jwk.curve) {
        case (.rsa, _): return "RS256"
        case (.ecdsa, .some(.ecdsa(.p256))): return "ES256"
        default: throw JWTKeyError.invalidJWKS("\(name) has no 'alg' and is neither RSA nor EC P-256: give its 'alg' (RS256, ES256)")
        }
    }

    /// Whether the cookie may carry `request`'s token: for `GET` and `HEAD` only (a cross-site
    /// form can `POST` with the user's cookies).
    private func readsCookie(of request: Request) -> Bool { request.method == .get || request.method == .head }

    /// The 401 for `error`: a JSON body with the reason, and the `WWW-Authenticate` challenge
    /// (RFC 6750). `cookieName`: the cookie to name among the ways to send a token, nil where
    /// the cookie is not read (a `POST`).
    static func unauthorized(_ error: JWTVerificationError, cookieName: String?) -> HTTPError {
        let message: String
        let challenge: String
        switch error {
        case .missingToken:
            if let cookieName {
                message = "missing token: send 'Authorization: Bearer <JWT>', the '\(cookieName)' cookie or '?token=<JWT>'"
            } else {
                message = "missing token: send 'Authorization: Bearer <JWT>' or '?token=<JWT>' (a cookie is read for GET and HEAD only)"
            }
            challenge = #"Bearer realm="rill""#
        default:
            message = error.description
            challenge = #"Bearer realm="rill", error="invalid_token""#
        }
        return HTTPError(.unauthorized, message: message, headerFields: [.wwwAuthenticate: challenge])
    }
}
