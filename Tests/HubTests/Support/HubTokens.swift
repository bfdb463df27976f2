import Foundation
import JWTKit

/// The HS256 secret of the JWT hubs in these tests.
let hubJWTSecret = "the-hub-tests-hs256-secret-32-bytes+"

/// A Rill token: `sub`, `exp` `lifetime` from now and the `rill` grants.
struct HubTokenPayload: JWTPayload {
    struct Grants: Codable, Sendable {
        var subscribe: [String]
        var publish: [String]
    }

    var sub = SubjectClaim(value: "hub-test")
    var exp: ExpirationClaim
    var rill: Grants

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// A token for the tests' hubs, signed with ``hubJWTSecret`` (or with `key`, under `kid`).
func hubToken(
    subscribe: [String] = [], publish: [String] = [], lifetimeSeconds: Double = 300, signedWith key: ES256PrivateKey? = nil,
    kid: String? = nil, sub: String = "hub-test"
) async throws -> String {
    let payload = HubTokenPayload(
        sub: SubjectClaim(value: sub), exp: ExpirationClaim(value: Date(timeIntervalSinceNow: lifetimeSeconds)),
        rill: .init(subscribe: subscribe, publish: publish))
    let signer = JWTKeyCollection()
    if let key {
        await signer.add(ecdsa: key, kid: kid.map { JWKIdentifier(string: $0) })
    } else {
        await signer.add(hmac: HMACKey(from: hubJWTSecret), digestAlgorithm: .sha256)
    }
    return try await signer.sign(payload, kid: kid.map { JWKIdentifier(string: $0) })
}
