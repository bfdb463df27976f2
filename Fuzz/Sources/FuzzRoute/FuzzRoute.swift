/// libFuzzer target: request-target handling, percent decoding and routing.
///
/// Input: a flags byte, then the bytes of a request-target. The target goes through the HTTP
/// parser inside a request line (its validation, `path` and `query` split); then, on the
/// parsed path (or the raw bytes if the parser refused them):
/// - `PercentDecoding.decodePathSegment` and `decodeQueryComponent` against plain reference
///   decoders written from their documentation;
/// - `URLQuery` against a reference split on `&` and the first `=`;
/// - `RouterTrie` with a fixed set of patterns against a reference backtracking matcher
///   (literal, then `:param`, then `*`, then `**`, at every level).
import FuzzSupport
import RillHTTP

@testable import Rill

// MARK: Reference decoders

func hex(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 0x30...0x39: byte - 0x30
    case 0x41...0x46: byte - 0x41 + 10
    case 0x61...0x66: byte - 0x61 + 10
    default: nil
    }
}

/// Strict: `%` needs two hex digits, no `%00`, valid UTF-8 after decoding.
func referencePathSegment(_ bytes: [UInt8]) -> [UInt8]? {
    var out: [UInt8] = []
    var index = 0
    while index < bytes.count {
        if bytes[index] == UInt8(ascii: "%") {
            guard index + 2 < bytes.count, let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2]) else { return nil }
            let byte = high << 4 | low
            if byte == 0 { return nil }
            out.append(byte)
            index += 3
        } else {
            out.append(bytes[index])
            index += 1
        }
    }
    guard String(validating: out, as: UTF8.self) != nil else { return nil }
    return out
}

/// Lenient: a bad `%` stays literally, `+` is a space, invalid UTF-8 is repaired.
func referenceQueryComponent(_ bytes: ArraySlice<UInt8>, plusAsSpace: Bool) -> String {
    var out: [UInt8] = []
    var index = bytes.startIndex
    while index < bytes.endIndex {
        let byte = bytes[index]
        if byte == UInt8(ascii: "%"), index + 2 < bytes.endIndex, let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2]) {
            out.append(high << 4 | low)
            index += 3
        } else {
            out.append(plusAsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            index += 1
        }
    }
    return String(decoding: out, as: UTF8.self)
}

func referenceQuery(_ bytes: [UInt8]) -> [[String]] {
    bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true).map { piece in
        if let equals = piece.firstIndex(of: UInt8(ascii: "=")) {
            return [
                referenceQueryComponent(piece[..<equals], plusAsSpace: true),
                referenceQueryComponent(piece[(equals + 1)...], plusAsSpace: true),
            ]
        }
        return [referenceQueryComponent(piece, plusAsSpace: true), ""]
    }
}

// MARK: Reference router

let patterns: [String] = [
    "/", "/users", "/users/:id", "/users/:id/posts/:post", "/users/me", "/a/b/d", "/a/:x/c", "/a/*/e",
    "/files/**", "/*/static", "/café", "/100%", "/x/*/y/**", "/:first/only", "/stream", "/a/b/**",
    "/%41", "/emoji/😀/:v",
]

typealias Segment = [UInt8]

func segments(of pattern: String) -> [Segment] {
    pattern.utf8.split(separator: UInt8(ascii: "/")).map(Array.init)
}

func referenceResolve(_ path: [UInt8]) -> (Int, [[String]])? {
    let raw = path.split(separator: UInt8(ascii: "/"))
    var decoded: [Segment] = []
    for segment in raw {
        guard let bytes = referencePathSegment(Array(segment)) else { return nil }
        decoded.append(bytes)
    }
    let table = patterns.enumerated().map { (segments(of: $0.element), $0.offset) }
    return referenceMatch(table, decoded, 0)
}

func text(_ bytes: Segment) -> String { String(decoding: bytes, as: UTF8.self) }

func referenceMatch(_ table: [([Segment], Int)], _ path: [Segment], _ level: Int) -> (Int, [[String]])? {
    let star = Array("*".utf8), starStar = Array("**".utf8)
    if level == path.count {
        if let exact = table.first(where: { $0.0.count == level }) { return (exact.1, []) }
        if let all = table.first(where: { $0.0.count == level + 1 && $0.0[level] == starStar }) {
            return (all.1, [[Parameters.catchAllName, ""]])
        }
        return nil
    }
    let segment = path[level]
    func isLiteral(_ s: Segment) -> Bool { s != star && s != starStar && s.first != UInt8(ascii: ":") }
    let literal = table.filter { $0.0.count > level && isLiteral($0.0[level]) && $0.0[level] == segment }
    if !literal.isEmpty, let found = referenceMatch(literal, path, level + 1) { return found }
    let parameter = table.filter { $0.0.count > level && $0.0[level].first == UInt8(ascii: ":") }
    if let name = parameter.first?.0[level].dropFirst(), let found = referenceMatch(parameter, path, level + 1) {
        return (found.0, [[text(Array(name)), text(segment)]] + found.1)
    }
    let wildcard = table.filter { $0.0.count > level && $0.0[level] == star }
    if !wildcard.isEmpty, let found = referenceMatch(wildcard, path, level + 1) { return found }
    if let all = table.first(where: { $0.0.count == level + 1 && $0.0[level] == starStar }) {
        return (all.1, [[Parameters.catchAllName, path[level...].map(text).joined(separator: "/")]])
    }
    return nil
}

nonisolated(unsafe) let trie: RouterTrie<Int> = {
    var trie = RouterTrie<Int>()
    for (index, pattern) in patterns.enumerated() { trie.insert(pattern, value: index) }
    return trie
}()

// MARK: Entry

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRoute(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let flags = input.byte()
    let target = Array(input.rest())

    // The request-target through the parser.
    var parser = HTTPRequestParser(limits: .init(maxTargetBytes: 4096))
    let method = flags & 1 == 0 ? "GET " : "OPTIONS "
    parser.append(contentsOf: Array(method.utf8) + target + Array(" HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
    var pathBytes = target
    var queryBytes: [UInt8] = []
    if case .head(let head)? = try? parser.next() {
        pathBytes = Array(head.path.utf8)
        queryBytes = head.query.map { Array($0.utf8) } ?? []
        fuzzCheck(!head.target.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }), "target with a space or control byte accepted")
    } else if let question = target.firstIndex(of: UInt8(ascii: "?")) {
        pathBytes = Array(target[..<question])
        queryBytes = Array(target[(question + 1)...])
    }
    let pathText = String(decoding: pathBytes, as: UTF8.self)
    let queryText = String(decoding: queryBytes, as: UTF8.self)

    // Percent decoding, one segment at a time (on valid UTF-8, as the router sees it).
    for segment in Array(pathText.utf8).split(separator: UInt8(ascii: "/")) {
        let substring = Substring(decoding: segment, as: UTF8.self)
        let got = PercentDecoding.decodePathSegment(substring).map { Array($0.utf8) }
        let expected = referencePathSegment(Array(substring.utf8))
        fuzzCheck(
            got == expected, "decodePathSegment(\(substring.debugDescription)) = \(String(describing: got)), expected \(String(describing: expected))"
        )
    }
    for plus in [true, false] {
        let got = PercentDecoding.decodeQueryComponent(queryText[...], plusAsSpace: plus)
        let expected = referenceQueryComponent(Array(queryText.utf8)[...], plusAsSpace: plus)
        fuzzCheck(
            got == expected,
            "decodeQueryComponent(\(queryText.debugDescription), \(plus)) = \(got.debugDescription), expected \(expected.debugDescription)")
    }

    // The query as pairs.
    let query = URLQuery(queryText[...])
    let pairs = query.map { [$0.name, $0.value] }
    let expectedPairs = referenceQuery(Array(queryText.utf8))
    fuzzCheck(pairs == expectedPairs, "URLQuery(\(queryText.debugDescription)) = \(pairs), expected \(expectedPairs)")
    if let first = expectedPairs.first { fuzzCheck(query[first[0]] == first[1], "subscript misses the first value") }

    // Routing.
    let resolved = trie.resolve(pathText[...]).map { ($0.value, $0.parameters.map { [$0.name, $0.value] }) }
    let expected = referenceResolve(Array(pathText.utf8))
    let same = resolved?.0 == expected?.0 && resolved?.1 == expected?.1
    fuzzCheck(same, "resolve(\(pathText.debugDescription)) = \(String(describing: resolved)), expected \(String(describing: expected))")
    return 0
}

@_cdecl("FuzzRoute_main")
public func fuzzRouteMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    fuzzMain(argc, argv, fuzzRoute)
}
