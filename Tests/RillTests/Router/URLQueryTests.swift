import Testing

@testable import Rill

@Suite("URLQuery")
struct URLQueryTests {
    /// Flattens a query into comparable pairs.
    private func pairs(_ query: URLQuery) -> [[String]] {
        query.map { [$0.name, $0.value] }
    }

    @Test func `simple pairs are parsed in order`() {
        let query = URLQuery("a=1&b=2")
        #expect(pairs(query) == [["a", "1"], ["b", "2"]])
        #expect(query["a"] == "1")
        #expect(query["b"] == "2")
        #expect(query["c"] == nil)
        #expect(query.count == 2)
    }

    @Test func `repeated keys keep every value in order and the subscript returns the first`() {
        let query = URLQuery("channel=a&x=1&channel=b&channel=c")
        #expect(query["channel"] == "a")
        #expect(query.values(for: "channel") == ["a", "b", "c"])
        #expect(query.values(for: "x") == ["1"])
        #expect(query.values(for: "missing") == [])
    }

    @Test func `plus means space in both names and values`() {
        let query = URLQuery("full+name=Ada+Lovelace&x=%20y+z")
        #expect(query["full name"] == "Ada Lovelace")
        #expect(query["x"] == " y z")
    }

    @Test func `an encoded plus stays a plus sign`() {
        #expect(URLQuery("sum=1%2B1")["sum"] == "1+1")
    }

    @Test func `percent escapes are decoded in names and values`() {
        let query = URLQuery("a%26b=c%3Dd&q=%2Fpath%3Fx")
        #expect(query["a&b"] == "c=d")
        #expect(query["q"] == "/path?x")
    }

    @Test func `a key without an equals sign has an empty value`() {
        let query = URLQuery("flag&b=2&other")
        #expect(query["flag"] == "")
        #expect(query["other"] == "")
        #expect(pairs(query) == [["flag", ""], ["b", "2"], ["other", ""]])
    }

    @Test func `a key with an empty value after the equals sign has an empty value`() {
        #expect(pairs(URLQuery("a=&b")) == [["a", ""], ["b", ""]])
    }

    @Test func `only the first equals sign separates name from value`() {
        #expect(URLQuery("expr=a=b")["expr"] == "a=b")
    }

    @Test func `an empty name is kept when there is an equals sign`() {
        #expect(pairs(URLQuery("=x")) == [["", "x"]])
    }

    @Test func `empty pieces between ampersands are skipped`() {
        let query = URLQuery("&&a=1&&&b=2&")
        #expect(pairs(query) == [["a", "1"], ["b", "2"]])
    }

    @Test func `an empty query string has no pairs`() {
        let query = URLQuery("")
        #expect(query.isEmpty)
        #expect(query.count == 0)
        #expect(query["a"] == nil)
        #expect(Array(query).isEmpty)
        #expect(URLQuery("&&&").isEmpty)
        #expect(URLQuery() == query)
    }

    @Test(
        arguments: [
            ("a=%zz", "%zz"),
            ("a=100%", "100%"),
            ("a=%4", "%4"),
            ("a=%%41", "%A"),
            ("a=%G1%41", "%G1A"),
        ])
    func `invalid percent escapes are kept literally`(raw: String, expected: String) {
        #expect(URLQuery(raw)["a"] == expected)
    }

    @Test func `UTF-8 values are decoded, both encoded and raw`() {
        let query = URLQuery("city=K%C3%B8benhavn&emoji=%F0%9F%98%80&raw=café&%E5%90%8D=%E5%80%A4")
        #expect(query["city"] == "København")
        #expect(query["emoji"] == "😀")
        #expect(query["raw"] == "café")
        #expect(query["名"] == "値")
    }

    @Test func `escapes that decode to invalid UTF-8 become replacement characters`() {
        #expect(URLQuery("a=%FF")["a"] == "\u{FFFD}")
        #expect(URLQuery("a=x%C3")["a"] == "x\u{FFFD}")
    }

    @Test func `a query can be parsed from a substring of a request target`() {
        let target = "/search?q=swift+server&page=2"
        let queryStart = target.firstIndex(of: "?")!
        let query = URLQuery(target[target.index(after: queryStart)...])
        #expect(query["q"] == "swift server")
        #expect(query["page"] == "2")
    }

    @Test func `queries with the same pairs in the same order are equal`() {
        #expect(URLQuery("a=1&b=2") == URLQuery("a=%31&b=2"))
        #expect(URLQuery("a=1&b=2") != URLQuery("b=2&a=1"))
        #expect(Set([URLQuery("a=1"), URLQuery("a=%31")]).count == 1)
    }
}
