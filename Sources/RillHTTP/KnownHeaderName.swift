internal import HTTPTypes

/// Recognises header names the parser must act on, and common names it can build for free.
///
/// `HTTPField.Name(_:)` validates the name and, for mixed-case spellings, allocates a lowercased
/// copy. Almost every request uses a handful of names spelled either in Title-Case (curl, browsers,
/// wrk) or lowercase (HTTP/2-era clients), so exact matches return prebuilt names instead.
enum KnownHeaderName {
    /// The header fields that influence framing or connection handling.
    enum Role {
        case host
        case contentLength
        case transferEncoding
        case connection
        case expect
        case other
    }

    /// `HTTPTypes` marks its `.host` static unavailable (it steers users to `:authority`), but
    /// HTTP/1.1 carries the authority in this very field.
    private static let titleCaseHost = HTTPField.Name("Host")!
    /// Names spelled in lowercase; `HTTPTypes` only offers Title-Case statics.
    private static let lowercaseHost = HTTPField.Name("host")!
    private static let lowercaseUserAgent = HTTPField.Name("user-agent")!
    private static let lowercaseAccept = HTTPField.Name("accept")!
    private static let lowercaseAcceptEncoding = HTTPField.Name("accept-encoding")!
    private static let lowercaseAcceptLanguage = HTTPField.Name("accept-language")!
    private static let lowercaseConnection = HTTPField.Name("connection")!
    private static let lowercaseContentLength = HTTPField.Name("content-length")!
    private static let lowercaseContentType = HTTPField.Name("content-type")!
    private static let lowercaseTransferEncoding = HTTPField.Name("transfer-encoding")!
    private static let lowercaseCookie = HTTPField.Name("cookie")!
    private static let lowercaseAuthorization = HTTPField.Name("authorization")!
    private static let lowercaseCacheControl = HTTPField.Name("cache-control")!
    private static let lowercaseExpect = HTTPField.Name("expect")!
    private static let lowercaseOrigin = HTTPField.Name("origin")!
    private static let lowercaseReferer = HTTPField.Name("referer")!

    /// Classifies `name` (already validated as a token) and returns a prebuilt `HTTPField.Name`
    /// when its exact spelling is a common one, `nil` otherwise.
    static func lookUp(_ name: UnsafeBufferPointer<UInt8>) -> (name: HTTPField.Name?, role: Role) {
        switch name.count {
        case 4:
            if let match = match(name, "host", "Host", titleCaseHost, lowercaseHost) { return (match, .host) }
        case 6:
            if let match = match(name, "accept", "Accept", .accept, lowercaseAccept) { return (match, .other) }
            if let match = match(name, "cookie", "Cookie", .cookie, lowercaseCookie) { return (match, .other) }
            if let match = match(name, "expect", "Expect", .expect, lowercaseExpect) { return (match, .expect) }
            if let match = match(name, "origin", "Origin", .origin, lowercaseOrigin) { return (match, .other) }
        case 7:
            if let match = match(name, "referer", "Referer", .referer, lowercaseReferer) { return (match, .other) }
        case 10:
            if let match = match(name, "connection", "Connection", .connection, lowercaseConnection) {
                return (match, .connection)
            }
            if let match = match(name, "user-agent", "User-Agent", .userAgent, lowercaseUserAgent) {
                return (match, .other)
            }
        case 12:
            if let match = match(name, "content-type", "Content-Type", .contentType, lowercaseContentType) {
                return (match, .other)
            }
        case 13:
            if let match = match(
                name, "authorization", "Authorization", .authorization, lowercaseAuthorization)
            {
                return (match, .other)
            }
            if let match = match(name, "cache-control", "Cache-Control", .cacheControl, lowercaseCacheControl) {
                return (match, .other)
            }
        case 14:
            if let match = match(
                name, "content-length", "Content-Length", .contentLength, lowercaseContentLength)
            {
                return (match, .contentLength)
            }
        case 15:
            if let match = match(
                name, "accept-encoding", "Accept-Encoding", .acceptEncoding, lowercaseAcceptEncoding)
            {
                return (match, .other)
            }
            if let match = match(
                name, "accept-language", "Accept-Language", .acceptLanguage, lowercaseAcceptLanguage)
            {
                return (match, .other)
            }
        case 17:
            if let match = match(
                name, "transfer-encoding", "Transfer-Encoding", .transferEncoding, lowercaseTransferEncoding)
            {
                return (match, .transferEncoding)
            }
        default:
            break
        }
        return (nil, .other)
    }

    /// `.some(nil)` when `bytes` is `lowercase` in an unusual mix of cases (the role still applies
    /// but the name must be built), `.some(name)` for the two prebuilt spellings, `nil` when the
    /// bytes are a different name altogether.
    @inline(__always)
    private static func match(
        _ bytes: UnsafeBufferPointer<UInt8>,
        _ lowercase: StaticString,
        _ titleCase: StaticString,
        _ titleCaseName: @autoclosure () -> HTTPField.Name,
        _ lowercaseName: @autoclosure () -> HTTPField.Name
    ) -> HTTPField.Name?? {
        guard HTTPBytes.equalsCaseInsensitive(bytes, lowercase) else { return nil }
        if HTTPBytes.equals(bytes, titleCase) { return .some(titleCaseName()) }
        if HTTPBytes.equals(bytes, lowercase) { return .some(lowercaseName()) }
        return .some(nil)
    }
}
