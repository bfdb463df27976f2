import Testing

@testable import Rill

@Suite("PercentDecoding")
struct PercentDecodingTests {
    @Test func `strict decoding decodes valid escapes in either case and leaves plus alone`() {
        #expect(PercentDecoding.decodePathSegment("caf%C3%A9") == "café")
        #expect(PercentDecoding.decodePathSegment("caf%c3%a9") == "café")
        #expect(PercentDecoding.decodePathSegment("a%20b+c") == "a b+c")
        #expect(PercentDecoding.decodePathSegment("a%2Fb") == "a/b")
        #expect(PercentDecoding.decodePathSegment("plain") == "plain")
        #expect(PercentDecoding.decodePathSegment("") == "")
    }

    @Test(arguments: ["%zz", "%", "%4", "abc%", "a%g0", "%%41"])
    func `strict decoding rejects malformed escapes`(segment: String) {
        #expect(PercentDecoding.decodePathSegment(segment[...]) == nil)
    }

    @Test(arguments: ["%FF", "%C3", "%C3%28", "%ED%A0%80", "%C0%AF", "%F4%90%80%80", "a%00b"])
    func `strict decoding rejects invalid UTF-8 and NUL`(segment: String) {
        #expect(PercentDecoding.decodePathSegment(segment[...]) == nil)
    }

    @Test func `lenient decoding can keep plus signs when asked`() {
        #expect(PercentDecoding.decodeQueryComponent("a+b", plusAsSpace: true) == "a b")
        #expect(PercentDecoding.decodeQueryComponent("a+b", plusAsSpace: false) == "a+b")
        #expect(PercentDecoding.decodeQueryComponent("a+b%2B", plusAsSpace: false) == "a+b+")
    }

    @Test func `hex digits are recognised in both cases and nothing else is`() {
        #expect(PercentDecoding.hexValue(UInt8(ascii: "0")) == 0)
        #expect(PercentDecoding.hexValue(UInt8(ascii: "9")) == 9)
        #expect(PercentDecoding.hexValue(UInt8(ascii: "a")) == 10)
        #expect(PercentDecoding.hexValue(UInt8(ascii: "F")) == 15)
        #expect(PercentDecoding.hexValue(UInt8(ascii: "g")) == nil)
        #expect(PercentDecoding.hexValue(UInt8(ascii: "/")) == nil)
    }
}
