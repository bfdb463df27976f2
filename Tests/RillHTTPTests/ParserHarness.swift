import HTTPTypes
import RillHTTP
import Testing

/// What a parser produced for one input: its events (adjacent body events merged, since how
/// bytes arrive decides how they are split) and the error that stopped it, if any.
struct ParseOutcome: Equatable, CustomStringConvertible {
    var events: [HTTPParserEvent] = []
    var error: HTTPParserError?
    /// How many input bytes had been appended when the error was thrown.
    var bytesFedAtError: Int?

    var heads: [HTTPRequestHead] {
        events.compactMap { event -> HTTPRequestHead? in if case .head(let head) = event { head } else { nil } }
    }

    var body: [UInt8] {
        events.flatMap { event -> [UInt8] in if case .body(let bytes) = event { bytes } else { [] } }
    }

    var bodyString: String {
        String(decoding: body, as: UTF8.self)
    }

    var description: String {
        "events: \(events), error: \(String(describing: error)) after \(String(describing: bytesFedAtError)) bytes"
    }
}

/// How the harness hands input to the parser.
enum FeedMode: CaseIterable {
    /// One append with everything.
    case whole
    /// One append per byte, draining events after each.
    case byteByByte
    /// Appends of 7 bytes, a size that straddles every token boundary somewhere.
    case sevenByteSlices
}

/// Feeds `input` in `mode`, calling `next()` until it returns nil after each append.
/// `bodyLimitAfterHead` lets a test act like a router setting a per-route body limit.
func parse(
    _ input: [UInt8],
    mode: FeedMode,
    limits: HTTPRequestParser.Limits = .init(),
    bodyLimitAfterHead: ((HTTPRequestHead) -> Int?)? = nil
) -> ParseOutcome {
    var parser = HTTPRequestParser(limits: limits)
    var outcome = ParseOutcome()
    let sliceSize: Int
    switch mode {
    case .whole: sliceSize = max(input.count, 1)
    case .byteByByte: sliceSize = 1
    case .sevenByteSlices: sliceSize = 7
    }
    var fed = 0
    while fed < input.count {
        let end = min(fed + sliceSize, input.count)
        input[fed..<end].withUnsafeBytes { parser.append($0) }
        fed = end
        do throws(HTTPParserError) {
            while let event = try parser.next() {
                if case .head(let head) = event, let limit = bodyLimitAfterHead?(head) {
                    parser.setBodyLimit(forCurrentRequest: limit)
                }
                if case .body(let bytes) = event, case .body(let previous)? = outcome.events.last {
                    outcome.events[outcome.events.count - 1] = .body(previous + bytes)
                } else {
                    outcome.events.append(event)
                }
            }
        } catch {
            outcome.error = error
            outcome.bytesFedAtError = fed
            return outcome
        }
    }
    return outcome
}

/// Parses `input` in every feed mode, expects all modes to agree, and returns the outcome.
@discardableResult
func parseAllWays(
    _ input: [UInt8],
    limits: HTTPRequestParser.Limits = .init(),
    bodyLimitAfterHead: ((HTTPRequestHead) -> Int?)? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) -> ParseOutcome {
    let whole = parse(input, mode: .whole, limits: limits, bodyLimitAfterHead: bodyLimitAfterHead)
    for mode in [FeedMode.byteByByte, .sevenByteSlices] {
        var other = parse(input, mode: mode, limits: limits, bodyLimitAfterHead: bodyLimitAfterHead)
        // Where an error fires depends on the slicing only when the whole input is one append.
        other.bytesFedAtError = whole.bytesFedAtError
        #expect(other == whole, "\(mode) differs from whole input", sourceLocation: sourceLocation)
    }
    return whole
}

@discardableResult
func parseAllWays(
    _ input: String,
    limits: HTTPRequestParser.Limits = .init(),
    bodyLimitAfterHead: ((HTTPRequestHead) -> Int?)? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) -> ParseOutcome {
    parseAllWays(
        Array(input.utf8), limits: limits, bodyLimitAfterHead: bodyLimitAfterHead,
        sourceLocation: sourceLocation)
}

/// Expects `input` to fail with `error` in every feed mode, with no head produced before it
/// unless `headsBeforeError` says otherwise.
func expectFailure(
    _ input: String,
    _ error: HTTPParserError,
    limits: HTTPRequestParser.Limits = .init(),
    headsBeforeError: Int = 0,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let outcome = parseAllWays(input, limits: limits, sourceLocation: sourceLocation)
    #expect(outcome.error == error, "\(outcome)", sourceLocation: sourceLocation)
    #expect(outcome.heads.count == headsBeforeError, sourceLocation: sourceLocation)
}

/// The status code a failure maps to, for compact assertions.
func statusCode(of input: String, limits: HTTPRequestParser.Limits = .init()) -> Int? {
    parseAllWays(input, limits: limits).error?.status.code
}

extension HTTPFields {
    /// Fields as (raw name, value) pairs in order, for exact comparisons.
    var pairs: [(String, String)] {
        map { ($0.name.rawName, $0.value) }
    }
}
