import Foundation
import JWTKit
import Rill
import RillPubSub
import RillTestSupport
import Testing

@testable import RillJWT

/// Tokens signed in the test with each algorithm and key kind, verified by ``JWTAuthorizer``.
@Suite(.timeLimit(.minutes(1)))
struct JWTVerificationTests {
    let keys: TestKeys

    init() throws { keys = try TestKeys() }

    @Test func `HS256 with a secret`() async throws {
        let authorizer = try await JWTAuthorizer(keys: [.hmac(secret: TestKeys.secret)])
        let token = try await TestKeys.hs256(.expiring(subscribe: ["chat/*"], publish: ["chat/lobby"]))
        let claims = try await authorizer.verify(token)
        #expect(claims.subject == "user-42")
        #expect(claims.subscribe == [try ChannelPattern("chat/*")])
        #expect(claims.allows(.subscribe, to: "chat/room"))
        #expect(!claims.allows(.subscribe, to: "chat/room/typing"))
        #expect(claims.allows(.subscribeToPattern, to: "chat/*"))
        #expect(claims.allows(.subscribeToPattern, to: "chat/room-*"))
        #expect(!claims.allows(.subscribeToPattern, to: "chat/**"))
        #expect(!claims.allows(.subscribeToPattern, to: "a/**/b/**"), "a malformed pattern is not allowed")
        #expect(claims.allows(.publish, to: "chat/lobby"))
        #expect(!claims.allows(.publish, to: "chat/room"))
    }

    @Test func `RS256 with a PEM public key`() async throws {
        let authorizer = try await JWTAuthorizer(keys: [.publicKeyPEM(keys.rsaPublicPEM)])
        let claims = try await authorizer.verify(try await keys.rs256(.expiring(subscribe: ["users/42/**"])))
        #expect(claims.allows(.subscribe, to: "users/42/inbox/unread"))
        #expect(!claims.allows(.subscribe, to: "users/43/inbox"))
    }

    @Test func `ES256 with a PEM public key`() async throws {
        let authorizer = try await JWTAuthorizer(keys: [.publicKeyPEM(keys.ecdsaPublicPEM)])
        let claims = try await authorizer.verify(try await keys.es256(.expiring(subject: "es", subscribe: ["a"])))
        #expect(claims.subject == "es")
        #expect(claims.allows(.subscribe, to: "a"))
    }

    @Test func `ES256 with a JWKS file, by the token's kid`() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rill-jwks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let jwksPath = directory.appendingPathComponent("jwks.json").path
        try Data(keys.jwks(kid: "key-2026").utf8).write(to: URL(fileURLWithPath: jwksPath))
        let pemPath = directory.appendingPathComponent("public.pem").path
        try Data(keys.rsaPublicPEM.utf8).write(to: URL(fileURLWithPath: pemPath))

        #expect(try JWTKeySource.file(atPath: jwksPath) == .jwks(keys.jwks(kid: "key-2026")))
        #expect(try JWTKeySource.file(atPath: pemPath) == .publicKeyPEM(keys.rsaPublicPEM.drop { $0.isWhitespace }.description))
        let authorizer = try await JWTAuthorizer(keys: [try .file(atPath: jwksPath), try .file(atPath: pemPath)])
        let claims = try await authorizer.verify(try await keys.es256(.expiring(subscribe: ["x"]), kid: "key-2026"))
        #expect(claims.allows(ChannelAccess.subscribe, to: "x"))
        // The PEM file's RSA key verifies too: every key is tried.
        #expect(try await authorizer.verify(try await keys.rs256(.expiring(subscribe: ["y"]))).allows(ChannelAccess.subscribe, to: "y"))
    }

    @Test func `the header's alg must be its key's: none, HS384, RS256 over an HS256 signature are refused`() async throws {
        let authorizer = try await JWTAuthorizer(keys: [.hmac(secret: TestKeys.secret)])
        let exp = Int(Date().timeIntervalSince1970) + 300
        let payload = #"{"exp":\#(exp),"sub":"mallory","rill":{"subscribe":["x"]}}"#
        let honest = TestKeys.handMade(header: #"{"alg":"HS256","typ":"JWT"}"#, payload: payload)
        #expect(try await authorizer.verify(honest).subject == "mallory")
        for header in [#"{"alg":"HS384"}"#, #"{"alg":"none"}"#, #"{"alg":"RS256"}"#, #"{"alg":"ES256"}"#, #"{"alg":"garbage"}"#] {
            await #expect(throws: JWTVerificationError.unacceptedAlgorithm, "\(header)") {
                try await authorizer.verify(TestKeys.handMade(header: header, payload: payload))
            }
        }
        await #expect(throws: JWTVerificationError.malformed) {
            try await authorizer.verify(TestKeys.handMade(header: #"{"typ":"JWT"}"#, payload: payload))
        }
    }

    @Test func `a JWKS key without alg takes its type's algorithm: a first token naming another cannot pin it`() async throws {
        let authorizer = try await JWTAuthorizer(keys: [.jwks(try keys.rsaJWKSWithoutAlgorithm(kid: "rotating"))])
        // Sent first, unsigned by anything real: jwt-kit would have built the key's verifier
        // for PS512 from it and refused every RS256 token after.
        await #expect(throws: JWTVerificationError.unacceptedAlgorithm) {
            try await authorizer.verify(TestKeys.handMade(header: #"{"alg":"PS512","kid":"rotating"}"#, payload: #"{"exp":1}"#))
        }
        await #expect(throws: JWTVerificationError.unacceptedAlgorithm) {
            try await authorizer.verify(TestKeys.handMade(header: #"{"alg":"PS512"}"#, payload: #"{"exp":1}"#))
        }
        let claims = try await authorizer.verify(try await keys.rs256(.expiring(subscribe: ["y"])))
        #expect(claims.allows(.subscribe, to: "y"))
        // A key whose algorithm cannot be told, or is not supported, is refused at start.
        await #expect(throws: JWTKeyError.self) {
            let edwards = #"{"kty":"OKP","crv":"Ed25519","kid":"e","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#
            return try await JWTAuthorizer(keys: [.jwks(#"{"keys":[\#(edwards)]}"#)])
        }
        await #expect(throws: JWTKeyError.self) {
            try await JWTAuthorizer(keys: [.jwks(try keys.rsaJWKSWithoutAlgorithm(kid: "k").replacing(#""use""#, with: #""alg":"PS512","use""#))])
        }
    }

    @Test func `an exp centuries away, or in nanoseconds by mistake, gives a capped stream deadline, not a trap`() async throws {
        let authorizer = try await JWTAuthorizer(keys: [.hmac(secret: TestKeys.secret)])
        for exp in ["10000000000000000", "1e300", "9223372036854775807"] {
            let token = TestKeys.handMade(header: #"{"alg":"HS256"}"#, payload: #"{"exp":\#(exp),"rill":{"subscribe":["x"]}}"#)
            let claims = try await authorizer.verify(token)
            let deadline = authorizer.deadline(for: claims)
            #expect(deadline.instant > .now + .seconds(365 * 86_400), "\(exp)")
        }
    }

    @Test func `a token signed with another key, an expired one, one without exp are refused`() async throws {
        let authorizer = try await JWTAuthorizer(keys: [.hmac(secret: TestKeys.secret)])
        await #expect(throws: JWTVerificationError.invalidSignature) {
            try await authorizer.verify(try await TestKeys.hs256(.expiring(), secret: String(repeating: "x", count: 40)))
        }
        // ES256 where only a secret is configured: no key of that algorithm.
        await #expect(throws: JWTVerificationError.unacceptedAlgorithm) {
            try await authorizer.verify(try await keys.es256(.expiring()))
        }
        await #expect(throws: JWTVerificationError.expired) {
            try await authorizer.verify(try await TestKeys.hs256(.expiring(in: .seconds(-5))))
        }
        var noExpiry = RillTokenPayload.expiring()
        noExpiry.exp = nil
        await #expect(throws: JWTVerificationError.missingExpiration) {
            try await authorizer.verify(try await TestKeys.hs256(noExpiry))
        }
        await #expect(throws: JWTVerificationError.malformed) { try await authorizer.verify("not.a.jwt") }
        await #expect(throws: JWTVerificationError.invalidPattern(ChannelPatternError.tooManyStars("a/*b*").description)) {
            try await authorizer.verify(try await TestKeys.hs256(.expiring(subscribe: ["a/*b*"])))
        }
    }

    @Test func `the leeway accepts a token that expired moments ago`() async throws {
        let lenient = try await JWTAuthorizer(keys: [.hmac(secret: TestKeys.secret)], leeway: .seconds(30))
        let token = try await TestKeys.hs256(.expiring(in: .seconds(-5)))
        #expect(try await lenient.verify(token).subject == "user-42")
    }

    @Test func `unusable keys are refused when the authorizer is made`() async throws {
        await #expect(throws: JWTKeyError.secretTooShort(bytes: 5)) { try await JWTAuthorizer(keys: [.hmac(secret: "short")]) }
        await #expect(throws: JWTKeyError.noKeys) { try await JWTAuthorizer(keys: []) }
        await #expect(throws: JWTKeyError.unsupportedPublicKey) {
            try await JWTAuthorizer(keys: [.publicKeyPEM("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")])
        }
    }
}
