import HTTPTypes
import Rill
import RillTesting
import Testing

/// `request.formFields()` (an HTML form's body) and `Response.redirect(to:status:)`, over a
/// live socket.
@Suite(.timeLimit(.minutes(1)))
struct FormAndRedirectTests {
    private func application() throws -> Application {
        let router = Router()
        router.post("/form") { request, _ in
            let form = try request.formFields()
            return "\(form["title"] ?? "-")|\(form["note"] ?? "-")|\(form.values(for: "tag").joined(separator: ","))"
        }
        router.post("/messages") { request, _ in
            _ = try request.formFields()
            return Response.redirect(to: "/thanks")
        }
        router.get("/moved") { _, _ in Response.redirect(to: "/new\r\nSet-Cookie: stolen=1", status: .permanentRedirect) }
        return try Application(router: router, configuration: testConfiguration())
    }

    private let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded; charset=UTF-8"]

    @Test func `a form body is read like a query, as browsers encode it`() async throws {
        try await application().test(.live) { client in
            let body = Array("title=Hello+world%21&note=caf%C3%A9+%26+tea&tag=a&tag=b".utf8)
            let response = try await client.post("/form", body: body, headerFields: form)
            #expect(response.status == .ok)
            #expect(response.bodyText == "Hello world!|café & tea|a,b")
        }
    }

    @Test func `a body that is no form, coded or not UTF-8 is refused with the reason`() async throws {
        try await application().test(.live) { client in
            let json = try await client.post("/form", text: #"{"title":"x"}"#, headerFields: [.contentType: "application/json"])
            #expect(json.status == .unsupportedMediaType && json.bodyText.contains("x-www-form-urlencoded"))
            let multipart = try await client.post("/form", text: "--b--", headerFields: [.contentType: "multipart/form-data; boundary=b"])
            #expect(multipart.status == .unsupportedMediaType)
            var gzip = form
            gzip[.contentEncoding] = "gzip"
            #expect(try await client.post("/form", text: "title=x", headerFields: gzip).status == .unsupportedMediaType)
            let latin1 = try await client.post("/form", body: Array("title=".utf8) + [0xE9], headerFields: form)
            #expect(latin1.status == .badRequest && latin1.bodyText.contains("not UTF-8"))
        }
    }

    @Test func `a redirect names its location, and a line break in it cannot add a field`() async throws {
        try await application().test(.live) { client in
            let seeOther = try await client.post("/messages", text: "text=hi", headerFields: form)
            #expect(seeOther.status == .seeOther)
            #expect(seeOther.headerFields[.location] == "/thanks")
            #expect(seeOther.body.isEmpty)
            let moved = try await client.get("/moved")
            #expect(moved.status == .permanentRedirect)
            #expect(moved.headerFields[.setCookie] == nil)
            #expect(moved.headerFields[.location]?.hasPrefix("/new") == true)
            #expect(moved.headerFields[.location]?.contains("\r") == false)
        }
    }
}
