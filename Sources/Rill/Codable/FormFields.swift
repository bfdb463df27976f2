extension Request {
    /// The fields of an HTML form's body (`application/x-www-form-urlencoded`, what a
    /// `<form method="post">` sends), read like a query: `try request.formFields()["title"]`.
    /// `+` is a space and escapes are decoded, as browsers encode them.
    ///
    /// ```swift
    /// router.post("/messages") { request, context in
    ///     let form = try request.formFields()
    ///     guard let text = form["text"], !text.isEmpty else { throw HTTPError(.badRequest, message: "write something") }
    ///     try await context.publish(ServerSentEvent(data: text), channel: "chat")
    ///     return Response.redirect(to: "/")
    /// }
    /// ```
    ///
    /// - Throws: `HTTPError` 415 when the body is not declared as a form (a `multipart/form-data`
    ///   upload included) or comes with a content coding, 400 when it is not UTF-8.
    public func formFields() throws -> URLQuery {
        try refuseContentCoding()
        guard mediaType == "application/x-www-form-urlencoded" else {
            throw HTTPError(.unsupportedMediaType, message: "expected a form body (Content-Type: application/x-www-form-urlencoded)")
        }
        guard let text = String(validating: body, as: UTF8.self) else {
            throw HTTPError(.badRequest, message: "the form body is not UTF-8")
        }
        return URLQuery(text)
    }
}
