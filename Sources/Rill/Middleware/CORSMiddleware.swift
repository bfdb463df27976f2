public import HTTPTypes
import RillHTTP

/// Lets pages of other origins call the application from a browser: cross-origin resource
/// sharing as the Fetch standard defines it, for `fetch`, `XMLHttpRequest` and `EventSource`
/// alike.
///
/// ```swift
/// // A page on https://app.example.com reads the streams with cookies
/// // (`new EventSource(url, { withCredentials: true })`) and publishes with a token:
/// router.add(middleware: CORSMiddleware(allowedOrigins: ["https://app.example.com"], allowsCredentials: true))
///
/// // Any page, without credentials:
/// router.add(middleware: CORSMiddleware(allowedOrigins: .any))
/// ```
///
/// - A request from an allowed origin (its `Origin` field) is handled as usual, and its
///   response — an error's too: without the fields a browser reports a CORS failure instead of
///   the status — carries `Access-Control-Allow-Origin` (`*` for ``AllowedOrigins/any``, else
///   the origin), `Access-Control-Allow-Credentials: true` when ``allowsCredentials``, and
///   `Access-Control-Expose-Headers` when ``exposedHeaders`` names any.
/// - A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered
///   here, before any middleware added after this one and before routing: a preflight carries
///   no credentials, so an authentication middleware behind this one must not see it. `204`
///   with the allowed methods and headers and ``maxAge``; `403` with a message naming what is
///   not allowed (the origin, the method or a header), which a browser reports as a failed
///   preflight.
/// - A request from an origin that is not allowed is handled as usual, without the fields: the
///   browser keeps the response from the page. (CORS protects a browser's user; it is no
///   access control against other clients.)
/// - A response whose fields depend on the request's `Origin` carries `Vary: Origin`, so a
///   shared cache keeps one copy per origin; with ``AllowedOrigins/any`` every response, with an
///   `Origin` or not, carries `Access-Control-Allow-Origin: *` instead (Fetch §3.2.5).
///
/// Add it to the router first, before any middleware that authenticates: a preflight skips only
/// the middleware added after it. Not to a group: a preflight is an `OPTIONS` request, which
/// reaches a group's middleware only when the group has an `OPTIONS` route for that path.
/// Preflights are answered for any path; the request that follows gets the route's answer (a
/// 404 included, with the fields).
///
/// Responses the server writes before routing pass through no middleware and carry no fields,
/// so a page sees a network error instead of their status: 400 for a malformed request, 408,
/// 431, 503 when the server is full, and 413 for a chunked body that grows past the limit. A
/// refusal from ``RouterGroup/checkBeforeBody(_:)`` does carry them, and so does the 413 for a
/// body whose `Content-Length` is over the route's limit (refused from its head, through the
/// middleware; where no route takes it, its 404 or 405).
public struct CORSMiddleware: Middleware {
    /// The origins whose pages may read responses.
    public enum AllowedOrigins: Sendable, ExpressibleByArrayLiteral {
        /// Any origin: `Access-Control-Allow-Origin: *`. Browsers never send credentials to
        /// `*`, so this cannot be combined with ``CORSMiddleware/allowsCredentials``.
        case any
        /// These origins exactly, each as a browser sends it in `Origin`: scheme, host and any
        /// port, with no path and no trailing slash (`https://app.example.com`,
        /// `http://localhost:5173`). `null` (a sandboxed frame, a `file:` page) only when listed.
        case exactly(Set<String>)
        /// Origins for which the closure returns true (every subdomain of a site over HTTPS,
        /// say: `.matching { $0.hasPrefix("https://") && $0.hasSuffix(".example.com") }`). The
        /// closure sees the `Origin` field as sent, once it is one well-formed origin (see
        /// ``CORSMiddleware/isOrigin(_:)``), never `null`; it runs on every cross-origin request.
        /// Keep it strict: with ``CORSMiddleware/allowsCredentials``, every origin it allows
        /// reads your users' authenticated responses.
        case matching(@Sendable (String) -> Bool)

        /// The origins listed.
        public init(arrayLiteral origins: String...) { self = .exactly(Set(origins)) }

        func allows(_ origin: String) -> Bool {
            switch self {
            case .any: true
            case .exactly(let origins): origins.contains(origin)
            case .matching(let isAllowed): origin != "null" && isAllowed(origin)
            }
        }
    }

    /// The origins whose pages may read responses.
    public let allowedOrigins: AllowedOrigins
    /// The methods a preflight allows, in `Access-Control-Allow-Methods`. `GET`, `HEAD` and
    /// `POST` need no preflight and are allowed whatever this lists.
    public let allowedMethods: [HTTPRequest.Method]
    /// The request fields a preflight allows, in `Access-Control-Allow-Headers`; nil allows
    /// whichever a preflight asks for. A `Content-Type` other than a form's or plain text
    /// (`application/json`) must be allowed like any other field.
    public let allowedHeaders: [HTTPField.Name]?
    /// The response fields a page may read beyond the CORS-safelisted ones
    /// (`Access-Control-Expose-Headers`), such as `X-Request-Id`.
    public let exposedHeaders: [HTTPField.Name]
    /// Whether pages may send cookies or HTTP authentication and read the response
    /// (`Access-Control-Allow-Credentials: true`; `withCredentials: true` on an `EventSource`,
    /// `credentials: "include"` on a `fetch`).
    public let allowsCredentials: Bool
    /// How long a browser may cache a preflight's answer (`Access-Control-Max-Age`, whole
    /// seconds; browsers cap it: Chromium at 2 hours); nil sends none (Chromium then caches
    /// it for 5 seconds).
    public let maxAge: Duration?
    /// Whether pages served from the public internet may call this server on a private or
    /// local address (a hub on a LAN or `localhost`): a preflight that asks with
    /// `Access-Control-Request-Private-Network: true` is answered
    /// `Access-Control-Allow-Private-Network: true` (Chromium's Private Network Access).
    public let allowsPrivateNetwork: Bool

    /// Allows pages of `allowedOrigins` to call the application.
    ///
    /// - Parameters:
    ///   - allowedOrigins: the origins whose pages may read responses.
    ///   - allowedMethods: the methods a preflight allows; default `GET`, `HEAD`, `POST`.
    ///   - allowedHeaders: the request fields a preflight allows; default `Authorization`,
    ///     `Content-Type` and `Last-Event-ID` (which an `EventSource` resuming a stream sends);
    ///     nil allows any.
    ///   - exposedHeaders: the response fields a page may read beyond the safelisted ones;
    ///     default none.
    ///   - allowsCredentials: whether pages may send cookies or HTTP authentication; default
    ///     false. Not with ``AllowedOrigins/any``.
    ///   - maxAge: how long a browser may cache a preflight's answer; default 10 minutes.
    ///   - allowsPrivateNetwork: whether public pages may reach this server on a private
    ///     address; default false.
    public init(
        allowedOrigins: AllowedOrigins,
        allowedMethods: [HTTPRequest.Method] = [.get, .head, .post],
        allowedHeaders: [HTTPField.Name]? = [.authorization, .contentType, Self.lastEventID],
        exposedHeaders: [HTTPField.Name] = [],
        allowsCredentials: Bool = false,
        maxAge: Duration? = .seconds(600),
        allowsPrivateNetwork: Bool = false
    ) {
        if case .any = allowedOrigins {
            precondition(
                !allowsCredentials,
                "browsers send no credentials to any origin (`*`): list the origins (a predicate that allows any origin "
                    + "with credentials would let every site read your users' responses)")
        }
        if case .exactly(let origins) = allowedOrigins {
            for origin in origins {
                precondition(
                    origin == "null" || Self.isOrigin(origin),
                    "\"\(origin)\" is no origin: an origin is scheme://host[:port] in lowercase, with no path or trailing slash")
            }
        }
        precondition(maxAge.map { $0 >= .zero } ?? true, "maxAge must not be negative")
        self.allowedOrigins = allowedOrigins
        self.allowedMethods = allowedMethods
        self.allowedHeaders = allowedHeaders
        self.exposedHeaders = exposedHeaders
        self.allowsCredentials = allowsCredentials
        self.maxAge = maxAge
        self.allowsPrivateNetwork = allowsPrivateNetwork
        self.allowedMethodsValue = allowedMethods.map(\.rawValue).joined(separator: ", ")
        self.allowedHeadersValue = allowedHeaders?.map(\.rawName).joined(separator: ", ")
        self.allowedHeaderNames = Set((allowedHeaders ?? []).map(\.canonicalName))
        self.exposedHeadersValue = exposedHeaders.isEmpty ? nil : exposedHeaders.map(\.rawName).joined(separator: ", ")
        self.maxAgeValue = maxAge.map { String($0.components.seconds) }
    }

    /// Whether `text` is an origin as a browser sends it in `Origin`: a scheme, `://`, a host
    /// and an optional port, in lowercase ASCII (a browser sends international names in their
    /// `xn--` form), with no path, query, user or trailing slash (`https://app.example.com`,
    /// `http://localhost:5173`, `http://[::1]:8080`).
    public static func isOrigin(_ text: String) -> Bool {
        let utf8 = text.utf8[...]
        let scheme = utf8.prefix { $0 != UInt8(ascii: ":") }
        guard utf8[scheme.endIndex...].starts(with: "://".utf8) else { return false }
        guard let first = scheme.first, isLowercaseLetter(first),
            scheme.allSatisfy({
                isLowercaseLetter($0) || isDigit($0) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".")
            })
        else { return false }
        var rest = utf8[scheme.endIndex...].dropFirst(3)
        if rest.first == UInt8(ascii: "[") {
            // An IPv6 literal.
            guard let close = rest.firstIndex(of: UInt8(ascii: "]")) else { return false }
            let literal = rest[rest.index(after: rest.startIndex)..<close]
            let isLiteral = literal.allSatisfy {
                isDigit($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".")
            }
            guard !literal.isEmpty, isLiteral else { return false }
            rest = rest[rest.index(after: close)...]
        } else {
            let host = rest.prefix { $0 != UInt8(ascii: ":") }
            let isHost = host.allSatisfy {
                isLowercaseLetter($0) || isDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_")
            }
            guard !host.isEmpty, isHost else { return false }
            // Labels as a browser writes them: none empty (`a..b`, a leading or trailing dot),
            // none starting or ending with a hyphen.
            let labels = host.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
            guard labels.allSatisfy({ !$0.isEmpty && $0.first != UInt8(ascii: "-") && $0.last != UInt8(ascii: "-") }) else {
                return false
            }
            rest = rest[host.endIndex...]
        }
        guard let colon = rest.first else { return true }
        // A port as a browser writes it: 1 to 65535, no leading zero, never the scheme's default
        // (`https://a.example:443` is sent as `https://a.example`).
        let port = rest.dropFirst()
        guard colon == UInt8(ascii: ":"), (1...5).contains(port.count), port.allSatisfy(isDigit), port.first != UInt8(ascii: "0"),
            let number = Int(String(decoding: port, as: UTF8.self)), number <= 65535
        else { return false }
        let defaultPorts: [String: Int] = ["http": 80, "https": 443, "ws": 80, "wss": 443]
        return defaultPorts[String(decoding: scheme, as: UTF8.self)] != number
    }

    private static func isLowercaseLetter(_ byte: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) }
    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    /// `Last-Event-ID`, which an `EventSource` sends when it reconnects.
    public static let lastEventID = HTTPField.Name("Last-Event-ID")!

    private let allowedMethodsValue: String
    private let allowedHeadersValue: String?
    private let allowedHeaderNames: Set<String>
    private let exposedHeadersValue: String?
    private let maxAgeValue: String?

    /// Whether the fields depend on the request's origin (anything but `*`).
    private var variesByOrigin: Bool {
        if case .any = allowedOrigins { return false }
        return true
    }

    public func handle(_ request: Request, context: RequestContext, next: Responder) async throws -> Response {
        // No `Origin`: same-origin, or no browser — nothing to allow.
        let origin = request.headerFields[.origin]
        var isAllowed = false
        if let origin {
            // What a browser sends: one field, one origin (or `null`). Anything else — two
            // fields, a list, a path — is no browser's, and allowed nothing (a `.matching`
            // predicate never sees it: `https://evil.example/.example.com` does not end a host
            // in `.example.com`).
            let isWellFormed = request.headerFields[values: .origin].count == 1 && (origin == "null" || Self.isOrigin(origin))
            isAllowed = isWellFormed && allowedOrigins.allows(origin)
            if request.method == .options, let method = request.headerFields[.accessControlRequestMethod] {
                return preflightResponse(origin: origin, isAllowed: isAllowed, method: method, request: request)
            }
        }
        var response = try await respond(to: request, context: context, next: next)
        // `*` answers every request alike; anything else depends on the origin, which a cache
        // must learn (also from a request without one).
        if isAllowed || !variesByOrigin { addOriginFields(origin: origin, to: &response.headerFields) }
        if variesByOrigin { Self.addVaryOrigin(to: &response.headerFields) }
        return response
    }

    /// The handler's response, or the one its error is answered with (so that it gets the
    /// fields too).
    private func respond(to request: Request, context: RequestContext, next: Responder) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return Response(handlerError: error, logger: context.logger, path: request.path)
        }
    }

    private func preflightResponse(origin: String, isAllowed: Bool, method: String, request: Request) -> Response {
        let requestedHeaders = request.headerFields[values: .accessControlRequestHeaders]
            .flatMap { $0.split(separator: ",") }
            .map { $0.trimmingSpaces() }
            .filter { !$0.isEmpty }
        var refusal: String?
        if !isAllowed {
            refusal = "the origin \(origin) may not call this server"
        } else if !Self.safelistedMethods.contains(method), !allowedMethods.contains(where: { $0.rawValue == method }) {
            refusal = "the method \(method) is not allowed from other origins"
        } else if allowedHeaders != nil,
            let header = requestedHeaders.first(where: { !allowedHeaderNames.contains($0.lowercased()) })
        {
            refusal = "the request field \(header) is not allowed from other origins"
        }
        if let refusal {
            var response = HTTPError(.forbidden, message: "CORS preflight refused: \(refusal)").response
            if variesByOrigin { Self.addVaryOrigin(to: &response.headerFields) }
            return response
        }
        var fields = HTTPFields()
        addOriginFields(origin: origin, to: &fields)
        fields[.accessControlAllowMethods] = allowedMethodsValue
        if let allowedHeadersValue {
            if !allowedHeadersValue.isEmpty { fields[.accessControlAllowHeaders] = allowedHeadersValue }
        } else {
            // Any field asked for, echoed: only names that are tokens (a browser sends nothing else).
            let names = requestedHeaders.filter { !$0.isEmpty && $0.utf8.allSatisfy(HTTPBytes.isTokenByte) }
            if !names.isEmpty { fields[.accessControlAllowHeaders] = names.joined(separator: ", ") }
        }
        if let maxAgeValue { fields[.accessControlMaxAge] = maxAgeValue }
        if allowsPrivateNetwork, request.headerFields[Self.requestPrivateNetwork]?.lowercased() == "true" {
            fields[Self.allowPrivateNetwork] = "true"
        }
        // The answer depends on what was asked, not only on the origin.
        fields[.vary] =
            variesByOrigin
            ? "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
            : "Access-Control-Request-Method, Access-Control-Request-Headers"
        return Response(status: .noContent, headerFields: fields)
    }

    /// The fields of an allowed origin's response (`origin` nil: a request without one, which
    /// only ``AllowedOrigins/any`` answers with them).
    private func addOriginFields(origin: String?, to fields: inout HTTPFields) {
        fields[.accessControlAllowOrigin] = variesByOrigin ? origin : "*"
        if allowsCredentials { fields[.accessControlAllowCredentials] = "true" }
        if let exposedHeadersValue { fields[.accessControlExposeHeaders] = exposedHeadersValue }
    }

    /// Adds `Origin` to `Vary` unless it is listed already.
    private static func addVaryOrigin(to fields: inout HTTPFields) {
        let listed = fields[values: .vary].contains { value in
            value.split(separator: ",").contains { token in
                let name = token.trimmingSpaces()
                return name == "*" || name.lowercased() == "origin"
            }
        }
        if !listed { fields.append(HTTPField(name: .vary, value: "Origin")) }
    }

    private static let requestPrivateNetwork = HTTPField.Name("Access-Control-Request-Private-Network")!
    private static let allowPrivateNetwork = HTTPField.Name("Access-Control-Allow-Private-Network")!

    /// The methods that need no preflight (Fetch's CORS-safelisted methods).
    private static let safelistedMethods: Set<String> = ["GET", "HEAD", "POST"]
}
