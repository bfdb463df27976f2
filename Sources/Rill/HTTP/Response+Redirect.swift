public import HTTPTypes

extension Response {
    /// A redirect to `location` (a path such as `/done`, or an absolute URL), with an empty
    /// body.
    ///
    /// - Parameters:
    ///   - location: where the client goes next (`Location`). A line break in it cannot start
    ///     another field: it is sent as a space.
    ///   - status: `seeOther` (303, the default: after a `POST`, the client follows with a
    ///     `GET`), `temporaryRedirect` (307) or `permanentRedirect` (308), which repeat the
    ///     method and body, or `found` (302) and `movedPermanently` (301), which browsers follow
    ///     with a `GET`.
    /// - Precondition: `status` is a redirection (3xx).
    public static func redirect(to location: String, status: HTTPResponse.Status = .seeOther) -> Response {
        precondition(status.kind == .redirection, "a redirect has a 3xx status, not \(status.code)")
        return Response(status: status, headerFields: [.location: location])
    }
}
