/// libFuzzer target: the SSE client parser (`ServerSentEventParser`).
///
/// Input: a seed byte (split points), a byte choosing the line limit, then the stream. Checked:
/// no crash; the events, last event id, reconnection time and oversized-line count are the same
/// whether the stream arrives in one piece or split anywhere (also through the generic
/// `Sequence` entry point); `finish()` resets the stream so the same bytes parse the same again.
import FuzzSupport
import RillSSE

struct Outcome: Equatable {
    var events: [MessageEvent] = []
    var lastEventID = ""
    var reconnectionTime: Duration?
    var oversizedLineCount = 0

    init(_ parser: ServerSentEventParser, _ events: [MessageEvent]) {
        self.events = events
        lastEventID = parser.lastEventID
        reconnectionTime = parser.reconnectionTime
        oversizedLineCount = parser.oversizedLineCount
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSSE(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let seed = input.byte()
    let limitByte = input.byte()
    let maxLineBytes = limitByte & 1 == 0 ? ServerSentEventParser.defaultMaxLineBytes : 1 + Int(limitByte >> 1)
    let stream = input.rest()

    var whole = ServerSentEventParser(maxLineBytes: maxLineBytes)
    let wholeEvents = whole.parse(UnsafeRawBufferPointer(stream))
    let expected = Outcome(whole, wholeEvents)

    var split = ServerSentEventParser(maxLineBytes: maxLineBytes)
    var rng = SplitMix(seed: UInt64(seed) << 8 | UInt64(limitByte))
    var events: [MessageEvent] = []
    var offset = 0
    while offset < stream.count {
        let count = min(stream.count - offset, rng.below(3) == 0 ? 1 : 1 + rng.below(64))
        let chunk = UnsafeBufferPointer(rebasing: stream[offset..<(offset + count)])
        if rng.below(2) == 0 {
            events += split.parse(UnsafeRawBufferPointer(chunk))
        } else {
            // The generic path, through a non-contiguous sequence.
            events += split.parse(chunk.lazy.map { $0 })
        }
        offset += count
    }
    let got = Outcome(split, events)
    if got != expected {
        fuzzFailure("splits changed the outcome:\n split: \(got)\n whole: \(expected)")
    }

    // After finish(), the same stream again: the same events (ids carry over by design, so the
    // comparison is on type and data only).
    whole.finish()
    let again = whole.parse(UnsafeRawBufferPointer(stream))
    let firstTypes = wholeEvents.map { [$0.type, $0.data] }
    let againTypes = again.map { [$0.type, $0.data] }
    fuzzCheck(firstTypes == againTypes, "finish() did not reset the stream: \(firstTypes) vs \(againTypes)")
    return 0
}

@_cdecl("FuzzSSE_main")
public func fuzzSSEMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    fuzzMain(argc, argv, fuzzSSE)
}
