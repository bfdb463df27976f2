import Testing

@testable import Rill

@Suite("URLQuery")
struct URLQueryTests {
    /// Flattens a query into comparable pairs.
    private func pairs(_ query: URLQuery) -> [[String]] {
        query.map { [$0.name, $0.value] }
    }

    @Test("Simple pairs are parsed in order")
    func simplePairs() {
        let query = URLQuery("a=1&b=2")
        #expect(pairs(query) == [["a", "1"], ["b", "2"]])
        #expect(query["a"] == "1")
        #expect(query["b"] == "2")
        #expect(query["c"] == nil)
        #expect(query.count == 2)
    }

    @Test("Repeated keys keep every value in order and the subscript returns the first")
    func repeatedKeys() {
        let query = URLQuery("channel=a&x=1&channel=b&channel=c")
        #expect(query["channel"] == "a")
        #expect(query.values(for: "channel") == ["a", "b", "c"])
        #expect(query.values(for: "x") == ["1"])
        #expect(query.values(for: "missing") == [])
    }

    @Test("Plus means space in both names and values")
    func plusIsSpace() {
        let query = URLQuery("full+name=Ada+Lovelace&x=%20y+z")
        #expect(query["full name"] == "Ada Lovelace")
        #expect(query["x"] == " y z")
    }

    @Test("An encoded plus stays a plus sign")
    func encodedPlus() {
        #expect(URLQuery("sum=1%2B1")["sum"] == "1+1")
    }

    @Test("Percent escapes are decoded in names and values")
    func percentEscapes() {
        let query = URLQuery("a%26b=c%3Dd&q=%2Fpath%3Fx")
        #expect(query["a&b"] == "c=d")
        #expect(query["q"] == "/path?x")
    }

    @Test("A key without an equals sign has an empty value")
    func missingEquals() {
        let query = URLQuery("flag&b=2&other")
        #expect(query["flag"] == "")
        #expect(query["other"] == "")
        #expect(pairs(query) == [["flag", ""], ["b", "2"], ["other", ""]])
    }

    @Test("A key with an empty value after the equals sign has an empty value")
    func emptyValue() {
        #expect(pairs(URLQuery("a=&b")) == [["a", ""], ["b", ""]])
    }

    @Test("Only the first equals sign separates name from value")
    func secondEquals() {
        #expect(URLQuery("expr=a=b")["expr"] == "a=b")
    }

    @Test("An empty name is kept when there is an equals sign")
    func emptyName() {
        #expect(pairs(URLQuery("=x")) == [["", "x"]])
    }

    @Test("Empty pieces between ampersands are skipped")
    func emptyPieces() {
        let query = URLQuery("&&a=1&&&b=2&")
        #expect(pairs(query) == [["a", "1"], ["b", "2"]])
    }

    @Test("An empty query string has no pairs")
    func emptyString() {
        let query = URLQuery("")
        #expect(query.isEmpty)
        #expect(query.count == 0)
        #expect(query["a"] == nil)
        #expect(Array(query).isEmpty)
        #expect(URLQuery("&&&").isEmpty)
        #expect(URLQuery() == query)
    }

    @Test(
        "Invalid percent escapes are kept literally",
        arguments: [
            ("a=%zz", "%zz"),
            ("a=100%", "100%"),
            ("a=%4", "%4"),
            ("a=%%41", "%A"),
            ("a=%G1%41", "%G1A"),
        ])
    func invalidEscapes(raw: String, expected: String) {
        #expect(URLQuery(raw)["a"] == expected)
    }

    @Test("UTF-8 values are decoded, both encoded and raw")
    func utf8Values() {
        let query = URLQuery("city=K%C3%B8benhavn&emoji=%F0%9F%98%80&raw=café&%E5%90%8D=%E5%80%A4")
        #expect(query["city"] == "København")
        #expect(query["emoji"] == "😀")
        #expect(query["raw"] == "café")
        #expect(query["名"] == "値")
    }

    @Test("Escapes that decode to invalid UTF-8 become replacement characters")
    func invalidUTF8() {
        #expect(URLQuery("a=%FF")["a"] == "\u{FFFD}")
        #expect(URLQuery("a=x%C3")["a"] == "x\u{FFFD}")
    }

    @Test("A query can be parsed from a substring of a request target")
    func fromSubstring() {
        let target = "/search?q=swift+server&page=2"
        let queryStart = target.firstIndex(of: "?")!
        let query = URLQuery(target[target.index(after: queryStart)...])
        #expect(query["q"] == "swift server")
        #expect(query["page"] == "2")
    }

    @Test("Queries with the same pairs in the same order are equal")
    func equality() {
        #expect(URLQuery("a=1&b=2") == URLQuery("a=%31&b=2"))
        #expect(URLQuery("a=1&b=2") != URLQuery("b=2&a=1"))
        #expect(Set([URLQuery("a=1"), URLQuery("a=%31")]).count == 1)
    }
}
