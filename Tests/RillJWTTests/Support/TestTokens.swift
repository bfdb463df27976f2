import Crypto
import CryptoExtras
import Foundation
import JWTKit
import Rill

@testable import RillJWT

extension RillTokenPayload {
    /// Claims that expire `lifetime` from now.
    static func expiring(
        in lifetime: Duration = .seconds(300), subject: String? = "user-42", subscribe: [String]? = nil, publish: [String]? = nil
    ) -> RillTokenPayload {
        let seconds = Double(lifetime.components.seconds) + Double(lifetime.components.attoseconds) / 1e18
        return RillTokenPayload(
            exp: ExpirationClaim(value: Date(timeIntervalSinceNow: seconds)), sub: subject.map { SubjectClaim(value: $0) },
            rill: Grants(subscribe: subscribe, publish: publish))
    }
}

/// Signing keys made for one test, and the verification keys that match them.
struct TestKeys: Sendable {
    static let secret = "an-hs256-secret-of-32-bytes-or-more!"

    let rsa: JWTKit.Insecure.RSA.PrivateKey
    let ecdsa: ES256PrivateKey

    /// Fresh RSA (2048 bits) and P-256 keys.
    init() throws {
        rsa = try JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
        ecdsa = ES256PrivateKey()
    }

    /// The PEM of the RSA public key.
    var rsaPublicPEM: String { rsa.publicKey.pemRepresentation }
    /// The PEM of the P-256 public key.
    var ecdsaPublicPEM: String { ecdsa.publicKey.pemRepresentation }

    /// A JWKS holding the P-256 public key under `kid`.
    func jwks(kid: String) -> String {
        let (x, y) = ecdsa.publicKey.parameters!
        return #"{"keys":[{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","kid":"\#(kid)","x":"\#(x)","y":"\#(y)"}]}"#
    }

    /// `payload` signed with HS256 (the shared secret, or `secret`).
    static func hs256(_ payload: RillTokenPayload, secret: String = TestKeys.secret) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.sign(payload)
    }

    /// A JWS made by hand, signed with HMAC-SHA256 and `secret` whatever `header` says (its
    /// `alg` is not checked here): what an attacker who knows the secret, or a confused
    /// issuer, may send.
    static func handMade(header: String, payload: String, secret: String = TestKeys.secret) -> String {
        func base64URL(_ bytes: some Sequence<UInt8>) -> String {
            Data(bytes).base64EncodedString().replacing("+", with: "-").replacing("/", with: "_").replacing("=", with: "")
        }
        let input = base64URL(Array(header.utf8)) + "." + base64URL(Array(payload.utf8))
        let signature = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return input + "." + base64URL(signature)
    }

    /// A JWKS holding the RSA public key under `kid`, without `alg` (RFC 7517 makes it
    /// optional).
    func rsaJWKSWithoutAlgorithm(kid: String) throws -> String {
        let (modulus, exponent) = try rsa.publicKey.getKeyPrimitives()
        func base64URL(_ data: Data) -> String {
            data.base64EncodedString().replacing("+", with: "-").replacing("/", with: "_").replacing("=", with: "")
        }
        return #"{"keys":[{"kty":"RSA","use":"sig","kid":"\#(kid)","n":"\#(base64URL(modulus))","e":"\#(base64URL(exponent))"}]}"#
    }

    /// `payload` signed with RS256.
    func rs256(_ payload: RillTokenPayload) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(rsa: rsa, digestAlgorithm: .sha256)
        return try await keys.sign(payload)
    }

    /// `payload` signed with ES256, naming `kid` in the header if given.
    func es256(_ payload: RillTokenPayload, kid: String? = nil) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: ecdsa, kid: kid.map { JWKIdentifier(string: $0) })
        return try await keys.sign(payload, kid: kid.map { JWKIdentifier(string: $0) })
    }
}

/// An application with JWT authorization (`keys`): `GET /stream` relays `?channel=`
/// subscriptions, `GET /ticks` is a stream a task writes (a tick every 50 ms), `POST /publish`
/// publishes the body to `?channel=` — all behind ``JWTAuthenticationMiddleware``.
func jwtApplication(_ authorizer: JWTAuthorizer, eventLoopCount: Int = 1) throws -> Application {
    let router = Router()
    router.add(middleware: JWTAuthenticationMiddleware(authorizer))
    router.get("/stream") { request, context in try await context.eventStream(for: request) }
    router.get("/ticks") { _, context in
        EventStream { stream in
            var tick = 0
            while true {
                tick += 1
                try await stream.send(ServerSentEvent(data: "tick \(tick)"))
                try await context.eventLoop.sleep(for: .milliseconds(50))
            }
        }
    }
    router.post("/publish") { request, context in
        let receipt = try await context.publish(request.bodyText, channel: request.query["channel"] ?? "sse", authorizing: request)
        return receipt.id
    }
    let app = try Application(
        router: router, configuration: ServerConfiguration(eventLoopCount: eventLoopCount, host: "127.0.0.1", port: 0))
    app.authorizeChannels(with: authorizer)
    return app
}
