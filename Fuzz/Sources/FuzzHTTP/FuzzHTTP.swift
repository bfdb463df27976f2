/// libFuzzer target: the HTTP/1.1 request parser driven through the connection state machine.
///
/// Input: one seed byte (split points and response timing), one configuration byte, then the
/// bytes a client sends. The bytes are fed in random splits, pausing when the machine says so,
/// with responses finished at random moments, then EOF. Checked:
/// - at most one request is handled at a time; no reject while one is; nothing after close;
/// - pause/resume alternate, cancel only while handling; the machine never stalls (paused or
///   at EOF with nothing in flight and not closed);
/// - the queue stays within `maxQueuedRequests`, buffered bytes never exceed what was fed;
/// - the requests handled and the error rejected are the same whatever the splits and the
///   response timing (compared with one whole-input pass finishing every response at once).
import FuzzSupport
import HTTPTypes

@testable import RillHTTP

enum Step: Equatable {
    case handle(HTTPRequestHead, [UInt8])
    case reject(HTTPParserError)
}

struct Driver: ~Copyable {
    let configuration: HTTPConnectionStateMachine.Configuration
    var machine: HTTPConnectionStateMachine
    var trace: [Step] = []
    var inFlight: HTTPRequestHead?
    var paused = false
    var closed = false
    var fed = 0

    init(configuration: HTTPConnectionStateMachine.Configuration) {
        self.configuration = configuration
        machine = HTTPConnectionStateMachine(configuration: configuration)
    }

    /// A per-route body limit, the way the router hands one out.
    static func bodyLimit(_ head: HTTPRequestHead) -> Int? {
        head.path.hasPrefix("/s") ? 16 : nil
    }

    mutating func apply(_ actions: [HTTPConnectionStateMachine.Action]) {
        for action in actions {
            fuzzCheck(!closed, "action \(action) after close")
            switch action {
            case .handle(let head, let body):
                fuzzCheck(inFlight == nil, "second .handle while \(String(describing: inFlight)) in flight")
                // What handlers read from every head.
                _ = head.path
                _ = head.query
                _ = head.headerFields.count
                inFlight = head
                trace.append(.handle(head, body))
            case .reject(let error):
                fuzzCheck(inFlight == nil, "reject while a request is handled")
                _ = error.status
                trace.append(.reject(error))
                closed = true  // the integrator answers with the error and closes
            case .pauseReading:
                fuzzCheck(!paused, "pauseReading while paused")
                paused = true
            case .resumeReading:
                fuzzCheck(paused, "resumeReading while reading")
                paused = false
            case .cancelHandling:
                fuzzCheck(inFlight != nil, "cancelHandling with nothing in flight")
            case .sendContinue:
                break
            case .close, .closeAfterFlush:
                closed = true
            }
        }
    }

    func checkBounds() {
        // No input object (an endless response streams, or closed): nothing is held.
        let queued = machine.input?.queue.count ?? 0
        let buffered = machine.input?.parser.bufferedByteCount ?? 0
        fuzzCheck(queued <= configuration.maxQueuedRequests, "queue holds \(queued)")
        fuzzCheck(buffered <= fed, "parser buffers \(buffered) of \(fed) bytes fed")
    }

    /// Runs the whole exchange. `rng == nil`: one write, every response finished at once.
    mutating func run(_ data: UnsafeBufferPointer<UInt8>, rng: inout SplitMix?) {
        var offset = 0
        var inputEnded = false
        var steps = 0
        while !closed {
            steps += 1
            fuzzCheck(steps < 100_000, "no progress")
            var actions: [HTTPConnectionStateMachine.Action] = []
            // EOF may arrive while a response is in progress, but only while reading (a paused
            // connection does not read, so it cannot see EOF).
            let earlyEOF =
                inFlight != nil && offset >= data.count && !paused && !inputEnded
                && rng != nil && rng!.below(2) == 0
            if earlyEOF {
                inputEnded = true
                machine.inputEnded(into: &actions)
            } else if let head = inFlight, offset >= data.count || paused || rng == nil || rng!.below(3) == 0 {
                inFlight = nil
                machine.responseFinished(keepAlive: head.keepAlive, bodyLimit: Self.bodyLimit, into: &actions)
                if rng != nil, rng!.below(16) == 0 { machine.releaseIdleMemory() }
            } else if offset < data.count && !paused {
                var count = data.count - offset
                if rng != nil {
                    count = min(count, rng!.below(4) == 0 ? 1 : 1 + rng!.below(96))
                }
                let chunk = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: data[offset..<(offset + count)]))
                offset += count
                fed += count
                machine.receive(chunk, bodyLimit: Self.bodyLimit, into: &actions)
            } else if offset >= data.count && !inputEnded {
                inputEnded = true
                machine.inputEnded(into: &actions)
            } else if inFlight == nil {
                fuzzFailure("stalled: paused=\(paused) inputEnded=\(inputEnded) phase=\(machine.phase) queue=\(machine.input?.queue.count ?? 0)")
            }
            apply(actions)
            checkBounds()
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let seed = input.byte()
    let flags = input.byte()
    let limits = HTTPRequestParser.Limits(
        maxHeaderBytes: flags & 0x10 == 0 ? 512 : 16 * 1024,
        maxTargetBytes: flags & 0x20 == 0 ? 96 : 8 * 1024,
        maxBodyBytes: flags & 0x40 == 0 ? 256 : 1024 * 1024,
        maxHeaderCount: flags & 0x80 == 0 ? 8 : 100)
    let configuration = HTTPConnectionStateMachine.Configuration(
        parserLimits: limits, maxQueuedRequests: 1 + Int(flags & 0x07))
    let data = input.rest()

    var split = Driver(configuration: configuration)
    var rng: SplitMix? = SplitMix(seed: UInt64(seed) | UInt64(flags) << 8 | UInt64(data.count) << 16)
    split.run(data, rng: &rng)

    var whole = Driver(configuration: configuration)
    var none: SplitMix? = nil
    whole.run(data, rng: &none)

    if split.trace != whole.trace {
        fuzzFailure("splits changed the outcome:\n split: \(split.trace)\n whole: \(whole.trace)")
    }
    return 0
}

@_cdecl("FuzzHTTP_main")
public func fuzzHTTPMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    fuzzMain(argc, argv, fuzzHTTP)
}
