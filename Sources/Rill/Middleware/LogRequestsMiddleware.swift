public import Logging

/// Logs one line per request with swift-log: method, target, status and duration.
///
/// ```swift
/// router.add(middleware: LogRequestsMiddleware(.info))
/// ```
///
/// Credentials in the query string never reach the log: the value of every query parameter
/// whose name is in ``redactedQueryNames`` (compared case-insensitively after percent-decoding,
/// also as the last part of a name such as `github_token` or `api-key`) is logged as
/// `REDACTED`, and so is the user information of an absolute-form target. The default list is
/// ``defaultRedactedQueryNames``; pass your own to add names:
///
/// ```swift
/// router.add(middleware: LogRequestsMiddleware(
///     .info, redactingQueryValuesOf: LogRequestsMiddleware.defaultRedactedQueryNames.union(["otp"])))
/// ```
public struct LogRequestsMiddleware: Middleware {
    /// The level of the per-request line.
    public let level: Logger.Level
    /// Query parameter names whose values are logged as `REDACTED`, lowercased.
    public let redactedQueryNames: Set<String>

    /// The names redacted by default: common spellings of tokens, passwords, keys, signatures
    /// and session identifiers.
    public static let defaultRedactedQueryNames: Set<String> = [
        "token", "access_token", "refresh_token", "id_token", "auth", "authorization", "auth_token", "bearer",
        "password", "passwd", "pwd", "pass", "secret", "client_secret", "key", "api_key", "apikey", "private_key",
        "signature", "sig", "code", "jwt", "session", "sessionid", "session_id", "sid", "credential", "credentials",
        "x-amz-signature", "x-amz-credential", "x-amz-security-token", "otp",
    ]

    /// The text logged in place of a redacted value.
    public static let redactedValue = "REDACTED"

    /// Logs at `level`, redacting the query values of `names` (case-insensitive).
    public init(_ level: Logger.Level = .info, redactingQueryValuesOf names: Set<String> = Self.defaultRedactedQueryNames) {
        self.level = level
        redactedQueryNames = Set(names.map { $0.lowercased() })
    }

    public func handle(_ request: Request, context: RequestContext, next: Responder) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            log(request, context: context, status: response.status.code, since: start)
            return response
        } catch let error as HTTPError {
            log(request, context: context, status: error.status.code, since: start)
            throw error
        } catch {
            log(request, context: context, status: 500, since: start)
            throw error
        }
    }

    private func log(_ request: Request, context: RequestContext, status: Int, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let microseconds = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        context.logger.log(
            level: level, "\(request.method) \(redacting(request.target)) \(status)",
            metadata: [
                "status": "\(status)", "duration_us": "\(microseconds)",
                "peer": "\(context.remoteAddress?.description ?? "-")",
            ])
    }

    /// `target` as it may be logged: sensitive query values and user information replaced by
    /// ``redactedValue``. A target with nothing to redact is returned as it is.
    public func redacting(_ target: String) -> String {
        var target = target[...]
        var result = ""
        // Absolute form (`http://user:pass@host/…`): drop the user information.
        if !target.hasPrefix("/"), let colon = target.firstIndex(of: ":"), target[colon...].hasPrefix("://") {
            let authority = target.index(colon, offsetBy: 3)
            let authorityEnd = target[authority...].firstIndex { $0 == "/" || $0 == "?" } ?? target.endIndex
            if let at = target[authority..<authorityEnd].lastIndex(of: "@") {
                result += target[..<authority] + Self.redactedValue
                target = target[at...]
            }
        }
        guard let question = target.firstIndex(of: "?") else { return result.isEmpty ? String(target) : result + target }
        result += target[...question]
        var first = true
        for pair in target[target.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false) {
            if !first { result += "&" }
            first = false
            guard let equals = pair.firstIndex(of: "="), isSensitive(pair[..<equals]) else {
                result += pair
                continue
            }
            result += pair[...equals] + Self.redactedValue
        }
        return result
    }

    private func isSensitive(_ rawName: Substring) -> Bool {
        let name = PercentDecoding.decodeQueryComponent(rawName).lowercased()
        if redactedQueryNames.contains(name) { return true }
        // `github_token`, `api-key`, `user.password`, `client[secret]`: the last word decides.
        let words = name.split(whereSeparator: { !$0.isLetter && !$0.isNumber })
        if let last = words.last, words.count > 1, redactedQueryNames.contains(String(last)) { return true }
        return false
    }
}
