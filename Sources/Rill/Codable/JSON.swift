public import HTTPTypes

#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// A value sent as a JSON response, with an optional status.
///
/// Handlers that return an `Encodable` value get this automatically; use it directly to pick
/// the status or the encoder.
///
/// ```swift
/// router.post("/users") { request, context in
///     let user = try request.decode(User.self)
///     return JSONResponse(user, status: .created)
/// }
/// ```
public struct JSONResponse<Value: Encodable & Sendable>: ResponseGenerator {
    /// The value to encode.
    public var value: Value
    /// The response status.
    public var status: HTTPResponse.Status

    /// Wraps `value`, to be sent with `status`.
    public init(_ value: Value, status: HTTPResponse.Status = .ok) {
        self.value = value
        self.status = status
    }

    public func response(from request: Request, context: RequestContext) throws -> Response {
        let data: Data
        do {
            data = try JSONEncoder().encode(value)
        } catch {
            context.logger.error("encoding the JSON response failed", metadata: ["error": "\(error)"])
            throw HTTPError(.internalServerError)
        }
        return Response(status: status, headerFields: ResponseFields.json, body: .bytes(Array(data)))
    }
}

extension Request {
    /// Decodes the JSON body.
    ///
    /// - Throws: `HTTPError` 415 when the body is not declared as JSON (`application/json` or a
    ///   `+json` type) or comes with a content coding (`Content-Encoding: gzip`: Rill does not
    ///   decompress request bodies), 400 with the decoder's reason when it is not valid JSON for
    ///   `type`.
    public func decode<T: Decodable>(_ type: T.Type = T.self, decoder: JSONDecoder = JSONDecoder()) throws -> T {
        try refuseContentCoding()
        let mediaType = self.mediaType
        guard mediaType == "application/json" || mediaType.hasSuffix("+json") else {
            throw HTTPError(.unsupportedMediaType, message: "expected a JSON body (Content-Type: application/json)")
        }
        do {
            return try decoder.decode(T.self, from: Data(body))
        } catch let error as DecodingError {
            throw HTTPError(.badRequest, message: "invalid JSON body: \(Self.describe(error))")
        } catch {
            throw HTTPError(.badRequest, message: "invalid JSON body")
        }
    }

    /// The body's media type: `Content-Type` without its parameters, in lowercase (empty when
    /// absent).
    var mediaType: String {
        let contentType = headerFields[.contentType]?.lowercased() ?? ""
        return contentType.split(separator: ";", maxSplits: 1).first.map { String($0.trimmingSpaces()) } ?? ""
    }

    /// 415 when the body comes with a content coding other than `identity` (RFC 9110 §8.4.1:
    /// a coding the server does not apply is `415`, not a body read as if plain).
    public func refuseContentCoding() throws {
        guard let coding = headerFields[.contentEncoding], !coding.isEmpty, coding.lowercased() != "identity" else { return }
        throw HTTPError(.unsupportedMediaType, message: "request bodies with Content-Encoding '\(coding)' are not accepted; send it plain")
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
            return keys.isEmpty ? "" : " at '\(keys.joined(separator: "."))'"
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing key '\(key.stringValue)'\(path(context))"
        case .typeMismatch(_, let context): return "wrong type\(path(context))"
        case .valueNotFound(_, let context): return "missing value\(path(context))"
        case .dataCorrupted(let context): return "malformed JSON\(path(context))"
        @unknown default: return "malformed JSON"
        }
    }
}
