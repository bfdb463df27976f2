import Testing

@testable import Rill

@Suite("Parameters")
struct ParametersTests {
    @Test func `empty parameters have no values and no catch-all`() {
        let parameters = Parameters()
        #expect(parameters.isEmpty)
        #expect(parameters.count == 0)
        #expect(parameters["id"] == nil)
        #expect(parameters.catchAll == nil)
        #expect(Array(parameters).isEmpty)
    }

    @Test func `named values are found by name and iterated in order`() {
        let parameters: Parameters = ["user": "ada", "post": "7"]
        #expect(!parameters.isEmpty)
        #expect(parameters.count == 2)
        #expect(parameters["user"] == "ada")
        #expect(parameters["post"] == "7")
        #expect(parameters["missing"] == nil)
        #expect(parameters.map { "\($0.name)=\($0.value)" } == ["user=ada", "post=7"])
    }

    @Test func `the catch-all is exposed both as a property and as an entry`() {
        let parameters: Parameters = ["bucket": "b", Parameters.catchAllName: "a/b.txt"]
        #expect(parameters.catchAll == "a/b.txt")
        #expect(parameters["**"] == "a/b.txt")
        #expect(parameters.map(\.name) == ["bucket", "**"])
        #expect(parameters.description == "[bucket: b, **: a/b.txt]")
    }

    @Test func `equality and hashing follow the ordered pairs`() {
        let a: Parameters = ["id": "1"]
        let b = Parameters(entries: [.init(name: "id", value: "1")])
        #expect(a == b)
        #expect(a != ["id": "2"])
        #expect(Set([a, b]).count == 1)
    }
}
