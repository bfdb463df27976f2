public import HTTPTypes

/// An error that becomes an HTTP response: its status, a message for the client, and optional
/// header fields.
///
/// The response body is JSON: `{"error":{"status":404,"reason":"Not Found","message":"no such user"}}`.
///
/// ```swift
/// router.get("/users/:id") { request, context in
///     guard let user = users[context.parameters["id"] ?? ""] else {
///         throw HTTPError(.notFound, message: "no such user")
///     }
///     return user
/// }
/// ```
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    /// The response status.
    public var status: HTTPResponse.Status
    /// What the client is told; never internals.
    public var message: String?
    /// Extra header fields for the error response (for example `Allow` with a 405).
    public var headerFields: HTTPFields

    /// Creates an error with a status, an optional message and optional header fields.
    public init(_ status: HTTPResponse.Status, message: String? = nil, headerFields: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headerFields = headerFields
    }

    public var description: String {
        "HTTPError(\(status.code)\(message.map { ": \($0)" } ?? ""))"
    }

    /// The JSON error response.
    public var response: Response {
        var json = "{\"error\":{\"status\":\(status.code),\"reason\":"
        JSONString.append(status.reasonPhrase, to: &json)
        if let message {
            json += ",\"message\":"
            JSONString.append(message, to: &json)
        }
        json += "}}"
        var fields = ResponseFields.json
        if !headerFields.isEmpty {
            fields = headerFields
            fields[.contentType] = "application/json; charset=utf-8"
        }
        return Response(status: status, headerFields: fields, body: .bytes(Array(json.utf8)))
    }
}

/// Minimal JSON string escaping for the few responses the framework writes itself.
enum JSONString {
    static func append(_ string: String, to output: inout String) {
        output.append("\"")
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": output.append("\\\"")
            case "\\": output.append("\\\\")
            case "\n": output.append("\\n")
            case "\r": output.append("\\r")
            case "\t": output.append("\\t")
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                output.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
            default: output.unicodeScalars.append(scalar)
            }
        }
        output.append("\"")
    }
}
