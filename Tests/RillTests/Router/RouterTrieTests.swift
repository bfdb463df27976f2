import Testing

@testable import Rill

@Suite("RouterTrie")
struct RouterTrieTests {
    /// Builds a trie whose values are the patterns themselves, so a lookup says which route won.
    private func trie(_ patterns: String...) -> RouterTrie<String> {
        var trie = RouterTrie<String>()
        for pattern in patterns {
            trie.insert(pattern, value: pattern)
        }
        return trie
    }

    /// The captured parameters as `name=value` strings, in order.
    private func captured(_ parameters: Parameters) -> [String] {
        parameters.map { "\($0.name)=\($0.value)" }
    }

    // MARK: - Literals

    @Test func `literal routes resolve to their own values and nothing else`() throws {
        let routes = trie("/users", "/users/new", "/about", "/users/new/confirm")
        #expect(routes.resolve("/users")?.value == "/users")
        #expect(routes.resolve("/users/new")?.value == "/users/new")
        #expect(routes.resolve("/users/new/confirm")?.value == "/users/new/confirm")
        #expect(routes.resolve("/about")?.value == "/about")
        #expect(routes.resolve("/nope") == nil)
        #expect(routes.resolve("/users/old") == nil)
        #expect(routes.resolve("/about/more") == nil)
        #expect(routes.resolve("/Users") == nil, "literals are case-sensitive")
        let result = try #require(routes.resolve("/users/new"))
        #expect(result.parameters.isEmpty)
    }

    @Test func `a path that is only a prefix of a route does not match`() {
        let routes = trie("/a/b/c")
        #expect(routes.resolve("/a/b") == nil)
        #expect(routes.resolve("/a") == nil)
        #expect(routes.resolve("/") == nil)
    }

    @Test func `the root path resolves only when registered, however it is spelled`() {
        #expect(trie("/users").resolve("/") == nil)
        let routes = trie("/", "/users")
        #expect(routes.resolve("/")?.value == "/")
        #expect(routes.resolve("")?.value == "/")
        #expect(routes.resolve("//")?.value == "/")
        #expect(trie("").resolve("/")?.value == "")
    }

    @Test func `trailing slashes are ignored in paths and patterns`() {
        let routes = trie("/users/", "/posts")
        #expect(routes.resolve("/users")?.value == "/users/")
        #expect(routes.resolve("/users/")?.value == "/users/")
        #expect(routes.resolve("/posts/")?.value == "/posts")
        #expect(routes.resolve("/posts///")?.value == "/posts")
    }

    @Test func `repeated slashes collapse and the leading slash is optional`() {
        let routes = trie("a//b", "/users/:id/posts")
        #expect(routes.resolve("/a/b")?.value == "a//b")
        #expect(routes.resolve("//a///b")?.value == "a//b")
        #expect(routes.resolve("a/b")?.value == "a//b")
        let result = routes.resolve("//users//42//posts/")
        #expect(result?.value == "/users/:id/posts")
        #expect(result?.parameters["id"] == "42")
    }

    @Test func `dot segments are ordinary literals, never resolved`() {
        let routes = trie("/a/../b", "/c/:name")
        #expect(routes.resolve("/a/../b")?.value == "/a/../b")
        #expect(routes.resolve("/b") == nil)
        #expect(routes.resolve("/c/..")?.parameters["name"] == "..")
        #expect(routes.resolve("/c/.")?.parameters["name"] == ".")
    }

    // MARK: - Parameters and wildcards

    @Test func `a parameter captures exactly one segment`() throws {
        let routes = trie("/users/:id")
        let result = try #require(routes.resolve("/users/42"))
        #expect(result.value == "/users/:id")
        #expect(captured(result.parameters) == ["id=42"])
        #expect(result.parameters.catchAll == nil)
        #expect(routes.resolve("/users") == nil, "a parameter needs a non-empty segment")
        #expect(routes.resolve("/users/") == nil)
        #expect(routes.resolve("/users/42/extra") == nil)
    }

    @Test func `several parameters are captured in path order`() throws {
        let routes = trie("/users/:id/posts/:postID", "/:a/:b/:c/:d")
        let post = try #require(routes.resolve("/users/ada/posts/7"))
        #expect(post.value == "/users/:id/posts/:postID")
        #expect(captured(post.parameters) == ["id=ada", "postID=7"])
        let four = try #require(routes.resolve("/w/x/y/z"))
        #expect(four.value == "/:a/:b/:c/:d")
        #expect(captured(four.parameters) == ["a=w", "b=x", "c=y", "d=z"])
    }

    @Test func `routes sharing a parameter position reuse it under the same name`() {
        let routes = trie("/users/:id", "/users/:id/posts", "/users/:id/posts/:postID")
        #expect(routes.resolve("/users/1")?.value == "/users/:id")
        #expect(routes.resolve("/users/1/posts")?.value == "/users/:id/posts")
        #expect(routes.resolve("/users/1/posts/2").map { captured($0.parameters) } == ["id=1", "postID=2"])
    }

    @Test func `a wildcard matches one segment without capturing it`() throws {
        let routes = trie("/a/*/c", "/x/*")
        let result = try #require(routes.resolve("/a/anything/c"))
        #expect(result.value == "/a/*/c")
        #expect(result.parameters.isEmpty)
        #expect(routes.resolve("/a/c") == nil)
        #expect(routes.resolve("/a/b/b/c") == nil)
        #expect(routes.resolve("/x/y")?.value == "/x/*")
        #expect(routes.resolve("/x") == nil)
    }

    @Test func `segments that merely contain a star or colon are literals`() {
        let routes = trie("/files/*.png", "/time/12:30", "/a**")
        #expect(routes.resolve("/files/*.png")?.value == "/files/*.png")
        #expect(routes.resolve("/files/cat.png") == nil)
        #expect(routes.resolve("/time/12:30")?.value == "/time/12:30")
        #expect(routes.resolve("/a**")?.value == "/a**")
    }

    // MARK: - Catch-all

    @Test func `a catch-all captures an empty rest`() throws {
        let routes = trie("/files/**")
        for path in ["/files", "/files/", "/files//"] {
            let result = try #require(routes.resolve(path), "path \(path)")
            #expect(result.value == "/files/**")
            #expect(result.parameters.catchAll == "")
        }
        #expect(routes.resolve("/") == nil)
        #expect(routes.resolve("/filesx") == nil)
    }

    @Test func `a catch-all captures a multi-segment rest joined by single slashes`() {
        let routes = trie("/files/**")
        #expect(routes.resolve("/files/a")?.parameters.catchAll == "a")
        #expect(routes.resolve("/files/a/b/c.txt")?.parameters.catchAll == "a/b/c.txt")
        #expect(routes.resolve("/files/a/b/")?.parameters.catchAll == "a/b")
        #expect(routes.resolve("/files//a///b//")?.parameters.catchAll == "a/b")
        #expect(routes.resolve("/files/../etc/passwd")?.parameters.catchAll == "../etc/passwd")
    }

    @Test func `a catch-all rest is percent-decoded segment by segment`() {
        let routes = trie("/files/**")
        #expect(routes.resolve("/files/my%20docs/caf%C3%A9.txt")?.parameters.catchAll == "my docs/café.txt")
        #expect(routes.resolve("/files/a%2Fb//c")?.parameters.catchAll == "a/b/c")
        #expect(routes.resolve("/files/ok/%zz") == nil)
        #expect(routes.resolve("/files/%FF/ok") == nil)
    }

    @Test func `a catch-all comes after named parameters in the captures`() throws {
        let routes = trie("/buckets/:bucket/**")
        let result = try #require(routes.resolve("/buckets/photos/2024/cat.jpg"))
        #expect(captured(result.parameters) == ["bucket=photos", "**=2024/cat.jpg"])
        #expect(result.parameters.catchAll == "2024/cat.jpg")
    }

    @Test func `a root catch-all matches every path, but the exact root route wins at the root`() {
        let catchAll = trie("/**")
        #expect(catchAll.resolve("/")?.parameters.catchAll == "")
        #expect(catchAll.resolve("/any/thing")?.parameters.catchAll == "any/thing")
        let both = trie("/**", "/")
        #expect(both.resolve("/")?.value == "/")
        #expect(both.resolve("/")?.parameters.isEmpty == true)
        #expect(both.resolve("/x")?.value == "/**")
    }

    // MARK: - Priority and backtracking

    @Test func `literal beats parameter beats wildcard beats catch-all`() {
        let routes = trie("/p/**", "/p/*", "/p/:name", "/p/literal")
        #expect(routes.resolve("/p/literal")?.value == "/p/literal")
        #expect(routes.resolve("/p/other")?.value == "/p/:name")
        #expect(routes.resolve("/p/other")?.parameters["name"] == "other")
        #expect(routes.resolve("/p/a/b")?.value == "/p/**")
        #expect(routes.resolve("/p")?.value == "/p/**")

        let noParameter = trie("/q/**", "/q/*")
        #expect(noParameter.resolve("/q/x")?.value == "/q/*")
        #expect(noParameter.resolve("/q/x")?.parameters.isEmpty == true)
    }

    @Test func `insertion order does not change priority`() {
        let forward = trie("/p/literal", "/p/:name", "/p/*", "/p/**")
        let backward = trie("/p/**", "/p/*", "/p/:name", "/p/literal")
        for path in ["/p/literal", "/p/x", "/p/x/y", "/p"] {
            #expect(forward.resolve(path)?.value == backward.resolve(path)?.value, "path \(path)")
        }
    }

    @Test func `a literal branch that fails deeper backtracks to the parameter`() throws {
        let routes = trie("/a/:x/c", "/a/b/d")
        let result = try #require(routes.resolve("/a/b/c"))
        #expect(result.value == "/a/:x/c")
        #expect(captured(result.parameters) == ["x=b"])
        #expect(routes.resolve("/a/b/d")?.value == "/a/b/d")
        #expect(routes.resolve("/a/b/d")?.parameters.isEmpty == true)
        #expect(routes.resolve("/a/z/c")?.parameters["x"] == "z")
        #expect(routes.resolve("/a/z/d") == nil)
    }

    @Test func `backtracking drops parameters captured on abandoned branches`() throws {
        let routes = trie("/:a/:b/x", "/:a/*/y", "/s/**")
        let wildcard = try #require(routes.resolve("/1/2/y"))
        #expect(wildcard.value == "/:a/*/y")
        #expect(captured(wildcard.parameters) == ["a=1"])
        let catchAll = try #require(routes.resolve("/s/2/z"))
        #expect(catchAll.value == "/s/**")
        #expect(captured(catchAll.parameters) == ["**=2/z"])
    }

    @Test func `backtracking falls through to a catch-all at a shallower level`() {
        let routes = trie("/static/**", "/static/css/:file", "/static/css/site.css")
        #expect(routes.resolve("/static/css/site.css")?.value == "/static/css/site.css")
        #expect(routes.resolve("/static/css/app.css")?.parameters["file"] == "app.css")
        #expect(routes.resolve("/static/css/a/b.css")?.parameters.catchAll == "css/a/b.css")
        #expect(routes.resolve("/static/css")?.parameters.catchAll == "css")
    }

    @Test func `backtracking explores wildcards after parameters fail`() {
        let routes = trie("/a/:x/b/c", "/a/*/b/d", "/a/lit/b/e")
        #expect(routes.resolve("/a/lit/b/c")?.value == "/a/:x/b/c")
        #expect(routes.resolve("/a/lit/b/d")?.value == "/a/*/b/d")
        #expect(routes.resolve("/a/lit/b/d")?.parameters.isEmpty == true)
        #expect(routes.resolve("/a/lit/b/e")?.value == "/a/lit/b/e")
        #expect(routes.resolve("/a/lit/b/f") == nil)
    }

    // MARK: - Percent-decoding

    @Test func `parameters are percent-decoded`() {
        let routes = trie("/users/:name")
        #expect(routes.resolve("/users/Ada%20Lovelace")?.parameters["name"] == "Ada Lovelace")
        #expect(routes.resolve("/users/caf%C3%A9")?.parameters["name"] == "café")
        #expect(routes.resolve("/users/a+b")?.parameters["name"] == "a+b", "plus is not a space in paths")
        #expect(routes.resolve("/users/a%2Fb")?.parameters["name"] == "a/b")
        #expect(routes.resolve("/users/%E2%9C%93")?.parameters["name"] == "✓")
    }

    @Test func `literals match the decoded request segment`() {
        let routes = trie("/café", "/100%", "/with space")
        #expect(routes.resolve("/caf%C3%A9")?.value == "/café")
        #expect(routes.resolve("/caf%c3%a9")?.value == "/café")
        #expect(routes.resolve("/café")?.value == "/café")
        #expect(routes.resolve("/%63af%C3%A9")?.value == "/café")
        #expect(routes.resolve("/100%25")?.value == "/100%")
        #expect(routes.resolve("/with%20space")?.value == "/with space")
    }

    @Test func `literals compare bytes, so a differently normalized spelling does not match`() {
        let routes = trie("/caf\u{E9}")
        #expect(routes.resolve("/cafe%CC%81") == nil)
        #expect(routes.resolve("/cafe\u{301}") == nil)
    }

    @Test(
        arguments: [
            "/users/%zz", "/users/%", "/users/%4", "/users/ab%", "/users/%FF", "/users/%C3%28", "/users/a%00b",
            "/static/%zz", "/wild/%FF/end", "/%zz/users",
        ])
    func `segments with invalid percent-encoding match nothing`(path: String) {
        let routes = trie("/users/:name", "/static/**", "/wild/*/end", "/:a/users", "/**")
        #expect(routes.resolve(path) == nil)
    }

    @Test func `a valid path still resolves when another would have been invalid`() {
        let routes = trie("/users/:name", "/**")
        #expect(routes.resolve("/users/ok")?.parameters["name"] == "ok")
        #expect(routes.resolve("/other/ok%21")?.parameters.catchAll == "other/ok!")
    }

    // MARK: - Values

    @Test func `update accumulates into one value per pattern, however the pattern is spelled`() throws {
        var routes = RouterTrie<[String: Int]>()
        routes.update("/users", default: [:]) { $0["GET"] = 1 }
        routes.update("users/", default: [:]) { $0["POST"] = 2 }
        routes.update("/users/:id", default: [:]) { $0["GET"] = 3 }
        routes.update("/files/**", default: [:]) { $0["GET"] = 4 }
        routes.update("/files/**", default: [:]) { $0["HEAD"] = 5 }
        routes.update("/files", default: [:]) { $0["PUT"] = 6 }
        #expect(try #require(routes.resolve("/users")).value == ["GET": 1, "POST": 2])
        #expect(try #require(routes.resolve("/users/9")).value == ["GET": 3])
        #expect(try #require(routes.resolve("/files/x")).value == ["GET": 4, "HEAD": 5])
        #expect(try #require(routes.resolve("/files")).value == ["PUT": 6], "exact beats empty catch-all")
    }

    @Test func `inserting the same pattern again replaces its value`() {
        var routes = RouterTrie<Int>()
        routes.insert("/a/:id", value: 1)
        routes.insert("/a/:id/", value: 2)
        #expect(routes.resolve("/a/x")?.value == 2)
    }

    @Test func `an empty trie resolves nothing`() {
        let routes = RouterTrie<Int>()
        #expect(routes.resolve("/") == nil)
        #expect(routes.resolve("/a") == nil)
        #expect(routes.resolve("") == nil)
    }

    @Test func `a path given as a substring of the request target resolves the same`() {
        let routes = trie("/users/:id")
        let target = "/users/42?expand=true"
        let path = target[..<target.firstIndex(of: "?")!]
        #expect(routes.resolve(path)?.parameters["id"] == "42")
    }

    // MARK: - Scale

    @Test func `a thousand routes all resolve to their own values`() throws {
        var routes = RouterTrie<Int>()
        var expectations: [(path: String, value: Int, parameter: String?)] = []
        for i in 0..<1000 {
            switch i % 4 {
            case 0:
                // Many literal siblings at the root force the hashed child index.
                routes.insert("/route\(i)", value: i)
                expectations.append(("/route\(i)", i, nil))
            case 1:
                routes.insert("/api/v\(i)/items/:id", value: i)
                expectations.append(("/api/v\(i)/items/x\(i)", i, "x\(i)"))
            case 2:
                routes.insert("/api/v\(i - 1)/items/:id/r\(i)", value: i)
                expectations.append(("/api/v\(i - 1)/items/y/r\(i)/", i, "y"))
            default:
                routes.insert("/deep/\(i % 10)/\(i)/leaf", value: i)
                expectations.append(("/deep/\(i % 10)/\(i)/leaf", i, nil))
            }
        }
        for expected in expectations {
            // Resolve into a local first so a failure reports the path, not a dump of the trie.
            let resolved = routes.resolve(expected.path)
            let result = try #require(resolved, "path \(expected.path)")
            #expect(result.value == expected.value, "path \(expected.path)")
            #expect(result.parameters["id"] == expected.parameter, "path \(expected.path)")
        }
        #expect(routes.resolve("/route1") == nil)
        #expect(routes.resolve("/route1000") == nil)
        #expect(routes.resolve("/api/v0/items/x") == nil)
        #expect(routes.resolve("/deep/3/13/leaf") == nil)
    }

    @Test func `nodes switch to hashed lookup without losing literal children`() {
        var routes = RouterTrie<Int>()
        let limit = LiteralChildren.linearScanLimit
        for i in 0...(limit + 3) {
            routes.insert("/n/s\(i)", value: i)
            for j in 0...i {
                #expect(routes.resolve("/n/s\(j)")?.value == j, "after inserting \(i), looking up \(j)")
            }
        }
        routes.insert("/n/caf\u{E9}", value: -1)
        #expect(routes.resolve("/n/caf%C3%A9")?.value == -1)
        #expect(routes.resolve("/n/cafe\u{301}") == nil)
    }

    // MARK: - Programmer errors

    @Test func `two parameter names at the same position trap`() async {
        await #expect(processExitsWith: .failure) {
            var routes = RouterTrie<Int>()
            routes.insert("/u/:id", value: 1)
            routes.insert("/u/:name/posts", value: 2)
        }
    }

    @Test func `a catch-all that is not the last segment traps`() async {
        await #expect(processExitsWith: .failure) {
            var routes = RouterTrie<Int>()
            routes.insert("/files/**/edit", value: 1)
        }
    }

    @Test func `a parameter without a name traps`() async {
        await #expect(processExitsWith: .failure) {
            var routes = RouterTrie<Int>()
            routes.insert("/u/:", value: 1)
        }
    }

    @Test func `the same parameter name twice in one pattern traps`() async {
        await #expect(processExitsWith: .failure) {
            var routes = RouterTrie<Int>()
            routes.insert("/a/:id/b/:id", value: 1)
        }
    }

    @Test func `very long paths that match nothing are rejected cheaply`() {
        let routes = trie("/a/:x/b", "/a/*/c")
        let path = "/a" + String(repeating: "/a", count: 10_000)
        #expect(routes.resolve(path) == nil)
    }
}
