import HTTPTypes
import RillHTTP

/// A cookie to set in the browser: one `Set-Cookie` field (RFC 6265 §4.1), with safe defaults
/// (`HttpOnly`, `SameSite=Lax`, `Path=/`).
///
/// ```swift
/// var response = Response(body: .text("signed in"))
/// response.setCookie(Cookie(name: "session", value: token, maxAge: .seconds(3600), isSecure: true))
/// // Deleting it:
/// response.setCookie(.expired(name: "session"))
/// ```
///
/// An `EventSource` sends the cookies of its URL's site, and across origins only with
/// `withCredentials: true` (and ``CORSMiddleware/allowsCredentials``); a cookie a page on
/// another site should send needs `SameSite=None` and `Secure`.
public struct Cookie: Sendable, Equatable {
    /// Whether a browser sends the cookie with requests that other sites start (RFC 6265bis).
    public enum SameSite: String, Sendable {
        /// Only with requests this site starts.
        case strict = "Strict"
        /// Also with top-level navigations from other sites (the browsers' default).
        case lax = "Lax"
        /// With every request, also from pages of other sites; needs ``Cookie/isSecure``.
        case none = "None"
    }

    /// The cookie's name: an HTTP token (letters, digits, the backtick and `! # $ % & ' * + - . ^ _ | ~`).
    public let name: String
    /// The cookie's value: printable ASCII without spaces, double quotes, commas, semicolons or
    /// backslashes (RFC 6265's cookie-octets), such as a token; encode anything else first
    /// (percent- or base64url-encoding).
    public let value: String
    /// How long the browser keeps it (`Max-Age`, whole seconds; zero or less deletes it); nil
    /// keeps it for the browser session.
    public var maxAge: Duration?
    /// The path the browser sends it for (`Path`); nil: the request's directory.
    public var path: String?
    /// The domain the browser sends it to, subdomains included (`Domain`); nil: this host only.
    public var domain: String?
    /// Whether it is sent only over HTTPS (`Secure`).
    public var isSecure: Bool
    /// Whether scripts cannot read it (`HttpOnly`).
    public var isHTTPOnly: Bool
    /// Whether it goes with requests that other sites start (`SameSite`); nil sends no
    /// attribute (browsers then treat it as `Lax`).
    public var sameSite: SameSite?

    /// A cookie named `name` with `value`.
    ///
    /// - Precondition: `name` is a token and `value` consists of cookie-octets (optionally in
    ///   double quotes); `path` and `domain` have no `;` or control characters; ``SameSite/none``
    ///   and a `__Secure-` name come with `isSecure`, a `__Host-` name with `isSecure`, `path`
    ///   `/` and no `domain` (browsers drop them otherwise). Use ``isValidValue(_:)`` to check
    ///   a value that comes from outside.
    public init(
        name: String, value: String, maxAge: Duration? = nil, path: String? = "/", domain: String? = nil, isSecure: Bool = false,
        isHTTPOnly: Bool = true, sameSite: SameSite? = .lax
    ) {
        precondition(!name.isEmpty && name.utf8.allSatisfy(HTTPBytes.isTokenByte), "a cookie name is an HTTP token: \"\(name)\" is not")
        precondition(Self.isValidValue(value), "a cookie value is cookie-octets (no space, quote, comma, semicolon or backslash)")
        for attribute in [path, domain].compactMap({ $0 }) {
            precondition(
                attribute.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ";") },
                "a cookie's path or domain has no ';' or control characters: \"\(attribute)\"")
        }
        precondition(sameSite != SameSite.none || isSecure, "SameSite=None needs Secure: browsers drop the cookie otherwise")
        // The name prefixes browsers enforce (RFC 6265bis §4.1.3): they drop such a cookie otherwise.
        precondition(!name.hasPrefix("__Secure-") || isSecure, "a __Secure- cookie needs Secure")
        precondition(
            !name.hasPrefix("__Host-") || (isSecure && path == "/" && domain == nil), "a __Host- cookie needs Secure, Path=/ and no Domain")
        self.name = name
        self.value = value
        self.maxAge = maxAge
        self.path = path
        self.domain = domain
        self.isSecure = isSecure
        self.isHTTPOnly = isHTTPOnly
        self.sameSite = sameSite
    }

    /// A cookie that deletes the browser's cookie `name` (empty, `Max-Age=0`); `path` and
    /// `domain` must be those it was set with.
    public static func expired(name: String, path: String? = "/", domain: String? = nil) -> Cookie {
        Cookie(name: name, value: "", maxAge: .zero, path: path, domain: domain)
    }

    /// Whether `value` may be a cookie's value: RFC 6265's cookie-octets, optionally in double
    /// quotes.
    public static func isValidValue(_ value: String) -> Bool {
        var bytes = value.utf8[...]
        if bytes.count >= 2, bytes.first == UInt8(ascii: "\""), bytes.last == UInt8(ascii: "\"") {
            bytes = bytes.dropFirst().dropLast()
        }
        return bytes.allSatisfy { byte in
            byte == 0x21 || (0x23...0x2B).contains(byte) || (0x2D...0x3A).contains(byte) || (0x3C...0x5B).contains(byte)
                || (0x5D...0x7E).contains(byte)
        }
    }

    /// The `Set-Cookie` field's value: `name=value` and the attributes.
    public var setCookieValue: String {
        var text = "\(name)=\(value)"
        if let maxAge {
            // Whole seconds, rounded up: a positive age under a second must not read as 0,
            // which deletes the cookie.
            let (seconds, attoseconds) = maxAge.components
            text += "; Max-Age=\(maxAge <= .zero ? 0 : seconds + (attoseconds > 0 ? 1 : 0))"
        }
        if let path { text += "; Path=\(path)" }
        if let domain { text += "; Domain=\(domain)" }
        if isSecure { text += "; Secure" }
        if isHTTPOnly { text += "; HttpOnly" }
        if let sameSite { text += "; SameSite=\(sameSite.rawValue)" }
        return text
    }
}

extension Response {
    /// Adds a `Set-Cookie` field for `cookie` (one field per cookie, as RFC 6265 requires).
    public mutating func setCookie(_ cookie: Cookie) {
        headerFields.append(HTTPField(name: .setCookie, value: cookie.setCookieValue))
    }
}
