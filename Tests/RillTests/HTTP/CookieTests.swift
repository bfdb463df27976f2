import HTTPTypes
import Rill
import RillHTTP
import Testing

/// `request.cookies` (RFC 6265 §5.4 as browsers send it, HTTP/2's split fields too) and
/// `Cookie`'s `Set-Cookie` field.
@Suite struct CookieTests {
    private func request(cookies: [String]) -> Request {
        var fields = HTTPFields()
        for value in cookies { fields.append(HTTPField(name: .cookie, value: value)) }
        return Request(head: HTTPRequestHead(method: .get, target: "/", headerFields: fields))
    }

    @Test func `cookies are read by name across fields, first one first, quotes and blanks removed`() {
        let request = request(cookies: [#"theme=dark; session="abc.def"; empty=; =nameless; flag"#, "session=second;lang = en ;x=a=b"])
        let cookies = request.cookies
        #expect(cookies["session"] == "abc.def", "the first of two, its quotes removed")
        #expect(cookies["theme"] == "dark")
        #expect(cookies["empty"] == "")
        #expect(cookies["lang"] == "en", "blanks around name and value")
        #expect(cookies["x"] == "a=b", "the value runs to the next ';'")
        #expect(cookies["flag"] == nil && cookies["missing"] == nil)
        #expect(cookies.map(\.name) == ["theme", "session", "empty", "session", "lang", "x"])
        #expect(self.request(cookies: []).cookies["session"] == nil)
    }

    @Test func `a character that combines with a separator cannot hide the next cookie`() {
        // U+0600 before `;` and U+0301 after `=` form one Swift Character with it.
        let request = request(cookies: ["evil=x\u{0600}; session=abc; other=\u{0301}v"])
        #expect(request.cookies["session"] == "abc")
        #expect(request.cookies["evil"] == "x\u{0600}")
        #expect(request.cookies["other"] == "\u{0301}v")
        #expect(request.cookies.map(\.name) == ["evil", "session", "other"])
    }

    @Test func `a Set-Cookie field with safe defaults, every attribute, and one to delete`() {
        var response = Response()
        response.setCookie(Cookie(name: "session", value: "abc.def-123"))
        response.setCookie(
            Cookie(
                name: "pref", value: "\"quoted\"", maxAge: .seconds(90), path: "/app", domain: "example.com", isSecure: true,
                isHTTPOnly: false, sameSite: Cookie.SameSite.none))
        response.setCookie(.expired(name: "old"))
        response.setCookie(Cookie(name: "__Host-brief", value: "x", maxAge: .milliseconds(500), isSecure: true, sameSite: nil))
        #expect(
            response.headerFields[values: .setCookie] == [
                "session=abc.def-123; Path=/; HttpOnly; SameSite=Lax",
                "pref=\"quoted\"; Max-Age=90; Path=/app; Domain=example.com; Secure; SameSite=None",
                "old=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
                "__Host-brief=x; Max-Age=1; Path=/; Secure; HttpOnly",
            ])
    }

    @Test func `what a cookie value may hold`() {
        let valid = ["abc", "a.b-c_d~", "eyJhbGciOiJIUzI1NiJ9.e30.sig", "\"quoted\"", "", "%20", "a=b", "!#$&'()*+/:<=>?@[]^`{|}"]
        let invalid = ["a b", "a;b", "a,b", "a\\b", "a\"b", "\"open", "é", "a\tb", "a\u{7F}"]
        #expect(valid.filter { !Cookie.isValidValue($0) } == [])
        #expect(invalid.filter { Cookie.isValidValue($0) } == [])
    }
}
