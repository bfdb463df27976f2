// The routes of Examples/WebhookRelay, in a library so that WebhookRelayTests build the very same
// application in process. See Examples/WebhookRelay/Main/WebhookRelay.swift for how to run it.
import Crypto
import Rill

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// GitHub webhooks in, Server-Sent Events out.
///
/// - `POST /webhook/github`: checks `X-Hub-Signature-256: sha256=<hex>` (HMAC-SHA256 of the raw
///   body with the shared secret, compared in constant time; 401 when missing or wrong), then
///   by `X-GitHub-Event`: `push` publishes `"<pusher> pushed to <branch>"` as a `notify` event
///   with data `{"message":…}` to the default channel (400 on a malformed payload), `ping`
///   answers `{"status":"pong"}`, anything else `202 {"status":"ignored"}`. A delivery seen
///   before (same `X-GitHub-Delivery` id or same signed body, see ``RecentDeliveries``) is
///   answered `200 {"status":"duplicate"}` and not published again. Bodies over
///   ``maxBodyBytes`` (1 MiB) are refused with 413 before any of this.
/// - `GET /stream`: the subscribers (`?channel=`, `Last-Event-ID` replay).
public enum WebhookRelayRoutes {
    /// The largest webhook body accepted, 1 MiB (413 beyond): GitHub caps payloads at 25 MB,
    /// but the events this relay publishes are far smaller.
    public static let maxBodyBytes = 1024 * 1024

    /// Registers the routes on `app`'s router; `secret` is the webhook's shared secret, and
    /// `deliveries` remembers what was handled, to recognise replays.
    public static func install(on app: Application, secret: String, deliveries: RecentDeliveries = RecentDeliveries()) {
        let secret = Array(secret.utf8)  // SymmetricKey is not Sendable: each request makes its own
        app.router.get("/stream") { request, context in
            try await context.eventStream(for: request)
        }
        app.router.post("/webhook/github", maxBodyBytes: maxBodyBytes) { request, context in
            guard let header = request.headerFields[signatureField] else {
                return JSONResponse(Reply(status: "error", message: "missing X-Hub-Signature-256"), status: .unauthorized)
            }
            guard WebhookSignature.isValid(header: header, body: request.body, secret: secret) else {
                return JSONResponse(Reply(status: "error", message: "invalid X-Hub-Signature-256"), status: .unauthorized)
            }
            let deliveryID = request.headerFields[deliveryField]
            guard deliveries.admit(deliveryID: deliveryID, body: request.body) else {
                context.logger.notice("replayed delivery ignored", metadata: ["delivery": "\(deliveryID ?? "-")"])
                return JSONResponse(Reply(status: "duplicate"))
            }
            switch request.headerFields[eventField] ?? "" {
            case "ping":
                return JSONResponse(Reply(status: "pong"))
            case "push":
                let push: PushPayload
                do {
                    push = try JSONDecoder().decode(PushPayload.self, from: Data(request.body))
                } catch {
                    deliveries.forget(deliveryID: deliveryID, body: request.body)
                    return JSONResponse(Reply(status: "error", message: "malformed push payload"), status: .badRequest)
                }
                let message = "\(push.pusher.name) pushed to \(push.branch)"
                let receipt: PublishReceipt
                do {
                    receipt = try await context.publish(["message": message], event: "notify")
                } catch {
                    // Not handled: GitHub's retry must not be taken for a replay.
                    deliveries.forget(deliveryID: deliveryID, body: request.body)
                    throw error
                }
                context.logger.info("relayed push", metadata: ["message": "\(message)", "id": "\(receipt.id)"])
                return JSONResponse(Reply(status: "published", message: message, id: receipt.id))
            default:
                return JSONResponse(Reply(status: "ignored"), status: .accepted)
            }
        }
    }

    static let signatureField = HTTPField.Name("X-Hub-Signature-256")!
    static let eventField = HTTPField.Name("X-GitHub-Event")!
    static let deliveryField = HTTPField.Name("X-GitHub-Delivery")!
}

/// GitHub's `X-Hub-Signature-256` header: `sha256=` and the hex HMAC-SHA256 of the raw body.
public enum WebhookSignature {
    /// The header value for `body` signed with `secret` (what GitHub sends; for tests and tools).
    public static func header(for body: [UInt8], secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
        return "sha256="
            + mac.map { byte in
                let hex = String(byte, radix: 16)
                return byte < 0x10 ? "0" + hex : hex
            }.joined()
    }

    /// Whether `header` is a well-formed `sha256=<64 hex digits>` whose code matches `body`. The
    /// codes are compared in constant time (`HMAC.isValidAuthenticationCode`).
    public static func isValid(header: String, body: [UInt8], secret: [UInt8]) -> Bool {
        let prefix = "sha256="
        guard header.hasPrefix(prefix), let code = bytes(hex: header.dropFirst(prefix.count)),
            code.count == SHA256.byteCount
        else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(code, authenticating: body, using: SymmetricKey(data: secret))
    }

    /// Hex digits (either case) as bytes; nil for an odd length or a non-hex character.
    static func bytes(hex: Substring) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count.isMultiple(of: 2) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// The fields of a `push` event this relay uses.
struct PushPayload: Decodable {
    struct Pusher: Decodable { var name: String }
    var ref: String
    var pusher: Pusher

    /// `refs/heads/main` → `main`; other refs (tags) as they are.
    var branch: String {
        let prefix = "refs/heads/"
        return ref.hasPrefix(prefix) ? String(ref.dropFirst(prefix.count)) : ref
    }
}

/// The JSON body of every `POST /webhook/github` answer.
struct Reply: Encodable, Sendable {
    var status: String
    var message: String?
    var id: String?
}
