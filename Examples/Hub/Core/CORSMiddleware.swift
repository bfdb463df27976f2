public import Rill

/// Lets one browser origin use the hub from its own pages: every response (errors included)
/// carries `Access-Control-Allow-Origin`, `Vary: Origin` and, unless the origin is `*`,
/// `Access-Control-Allow-Credentials: true`; a preflight (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`) is answered here with the allowed methods and headers. A
/// plain `OPTIONS` goes on to the router, which answers it with `Allow` (or 404).
public struct CORSMiddleware: Middleware {
    /// The allowed origin, such as `https://app.example.com`, or `*`.
    public let origin: String

    /// Allows `origin`.
    public init(origin: String) { self.origin = origin }

    public func handle(_ request: Request, context: RequestContext, next: Responder) async throws -> Response {
        if request.method == .options, request.headerFields[.origin] != nil,
            request.headerFields[.accessControlRequestMethod] != nil
        {
            var response = Response(status: .noContent)
            addFields(to: &response.headerFields)
            response.headerFields[.accessControlAllowMethods] = "GET, POST"
            response.headerFields[.accessControlAllowHeaders] = "Authorization, Content-Type, Last-Event-ID"
            response.headerFields[.accessControlMaxAge] = "600"
            return response
        }
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPError {
            response = error.response
        } catch {
            // Any other error is answered as the server would (a 500, logged), with the fields:
            // without them a browser reports a CORS failure instead of the status.
            response = Response(handlerError: error, logger: context.logger, path: request.path)
        }
        addFields(to: &response.headerFields)
        return response
    }

    private func addFields(to fields: inout HTTPFields) {
        fields[.accessControlAllowOrigin] = origin
        if origin != "*" { fields[.accessControlAllowCredentials] = "true" }
        fields.append(HTTPField(name: .vary, value: "Origin"))
    }
}
