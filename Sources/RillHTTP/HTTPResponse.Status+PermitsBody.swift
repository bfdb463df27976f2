package import HTTPTypes

extension HTTPResponse.Status {
    /// Whether a response with this status may carry a body (RFC 9112 §6.3): not `1xx`, `204`
    /// or `304`. One rule for the server that writes responses and the test clients that read
    /// them; a `HEAD` request's response never has one either, which is the caller's to add.
    package var permitsBody: Bool { code >= 200 && code != 204 && code != 304 }
}
