public import HTTPTypes

/// A value a handler can return: the framework turns it into a ``Response``.
///
/// `String`, `Substring`, `[UInt8]`, `HTTPResponse.Status`, ``Response`` and ``EventStream``
/// conform; an `Encodable` value returned from a handler is sent as JSON.
public protocol ResponseGenerator: Sendable {
    /// The response for `request`.
    func response(from request: Request, context: RequestContext) throws -> Response
}

extension Response: ResponseGenerator {
    public func response(from request: Request, context: RequestContext) throws -> Response { self }
}

extension String: ResponseGenerator {
    /// `text/plain; charset=utf-8`.
    public func response(from request: Request, context: RequestContext) throws -> Response {
        Response(status: .ok, headerFields: ResponseFields.plainText, body: .text(self))
    }
}

/// Header fields of the built-in responses, built once and shared: a response's fields are
/// copied on write, so sharing costs nothing, and building them per response costs an
/// allocation (measured: one of a plain request's 15).
enum ResponseFields {
    static let plainText: HTTPFields = [.contentType: "text/plain; charset=utf-8"]
    static let octetStream: HTTPFields = [.contentType: "application/octet-stream"]
    static let json: HTTPFields = [.contentType: "application/json; charset=utf-8"]
}

extension Substring: ResponseGenerator {
    /// `text/plain; charset=utf-8`.
    public func response(from request: Request, context: RequestContext) throws -> Response {
        try String(self).response(from: request, context: context)
    }
}

extension Array: ResponseGenerator where Element == UInt8 {
    /// `application/octet-stream`.
    public func response(from request: Request, context: RequestContext) throws -> Response {
        Response(status: .ok, headerFields: ResponseFields.octetStream, body: .bytes(self))
    }
}

extension HTTPResponse.Status: ResponseGenerator {
    /// The status with an empty body.
    public func response(from request: Request, context: RequestContext) throws -> Response {
        Response(status: self)
    }
}
