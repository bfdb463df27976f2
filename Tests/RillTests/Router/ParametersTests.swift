import Testing

@testable import Rill

@Suite("Parameters")
struct ParametersTests {
    @Test("Empty parameters have no values and no catch-all")
    func empty() {
        let parameters = Parameters()
        #expect(parameters.isEmpty)
        #expect(parameters.count == 0)
        #expect(parameters["id"] == nil)
        #expect(parameters.catchAll == nil)
        #expect(Array(parameters).isEmpty)
    }

    @Test("Named values are found by name and iterated in order")
    func namedValues() {
        let parameters: Parameters = ["user": "ada", "post": "7"]
        #expect(!parameters.isEmpty)
        #expect(parameters.count == 2)
        #expect(parameters["user"] == "ada")
        #expect(parameters["post"] == "7")
        #expect(parameters["missing"] == nil)
        #expect(parameters.map { "\($0.name)=\($0.value)" } == ["user=ada", "post=7"])
    }

    @Test("The catch-all is exposed both as a property and as an entry")
    func catchAll() {
        let parameters: Parameters = ["bucket": "b", Parameters.catchAllName: "a/b.txt"]
        #expect(parameters.catchAll == "a/b.txt")
        #expect(parameters["**"] == "a/b.txt")
        #expect(parameters.map(\.name) == ["bucket", "**"])
        #expect(parameters.description == "[bucket: b, **: a/b.txt]")
    }

    @Test("Equality and hashing follow the ordered pairs")
    func equality() {
        let a: Parameters = ["id": "1"]
        let b = Parameters(entries: [.init(name: "id", value: "1")])
        #expect(a == b)
        #expect(a != ["id": "2"])
        #expect(Set([a, b]).count == 1)
    }
}
