// Runs one workload a given number of times and exits: run.sh --instructions runs it under
// valgrind with two counts and divides the difference in instructions by the difference in
// operations, which cancels start-up, setup and teardown.
//
//     RillMicroCount <workload> <operations>
import Dispatch
import RillMicroWorkloads
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `body` in a task while this (main) thread blocks. valgrind 3.19 crashes in an async
/// `main`, whose main thread exits into `dispatch_main` while the others run.
func runBlocking(_ body: @escaping @Sendable () async throws -> Void) {
    let done = DispatchSemaphore(value: 0)
    let failure = Mutex<String?>(nil)
    Task.detached {
        do { try await body() } catch { failure.withLock { $0 = "\(error)" } }
        done.signal()
    }
    done.wait()
    if let failure = failure.withLock({ $0 }) { fatalError(failure) }
}

/// Keeps a result alive so the optimizer cannot drop the work.
@inline(never) func consume<T>(_ value: T) { withExtendedLifetime(value) {} }

let workloads = [
    "http-get", "http-post", "http-get-bytewise", "sse-small", "sse-small-encoded", "sse-multiline",
    "route-50", "route-1", "request-path", "fanout-tasks", "fanout-broker", "publish-1-loop", "patterns-leading-10k",
    "patterns-prefix-10k", "roundtrip",
]
let arguments = CommandLine.arguments
guard arguments.count == 3, workloads.contains(arguments[1]), let count = Int(arguments[2]), count >= 0 else {
    print("usage: RillMicroCount <workload> <operations>\nworkloads: \(workloads.joined(separator: " "))")
    exit(2)
}

switch arguments[1] {
case "http-get", "http-post", "http-get-bytewise":
    var workload = HTTPParsingWorkload()
    let request = arguments[1] == "http-post" ? HTTPParsingWorkload.postRequest : HTTPParsingWorkload.getRequest
    let bytewise = arguments[1] == "http-get-bytewise"
    for _ in 0..<count { consume(bytewise ? workload.parseByteByByte(request) : workload.parseWhole(request)) }
case "sse-small", "sse-multiline":
    var buffer: [UInt8] = []
    let event = arguments[1] == "sse-small" ? SSEEncodingWorkload.smallEvent : SSEEncodingWorkload.multiLineEvent
    for _ in 0..<count { consume(SSEEncodingWorkload.encode(event, into: &buffer)) }
case "sse-small-encoded":
    for _ in 0..<count { consume(SSEEncodingWorkload.encoded(SSEEncodingWorkload.smallEvent)) }
case "route-50", "route-1":
    let fifty = arguments[1] == "route-50"
    runBlocking {
        let workload = try await RoutingWorkload.start(router: fifty ? RoutingWorkload.fiftyRoutes() : RoutingWorkload.oneRoute())
        consume(try await workload.get(fifty ? RoutingWorkload.paramPath : RoutingWorkload.literalPath, count: count))
        try await workload.shutdown()
    }
case "request-path":
    runBlocking {
        let workload = try await RequestPathWorkload.start()
        consume(try await workload.run(count: count))
        try await workload.shutdown()
    }
case "fanout-tasks", "fanout-broker":
    let mode: FanOutWorkload.Mode = arguments[1] == "fanout-tasks" ? .consumerTasks : .brokerOnly
    runBlocking {
        let workload = try await FanOutWorkload.start(mode)
        consume(try await workload.publish(count: count))
        await workload.shutdown()
    }
case "publish-1-loop":
    runBlocking {
        let workload = try await PublishContentionWorkload.start(threads: 1, channels: .own)
        consume(try await workload.publishFromFirstLoop(count: count))
        await workload.shutdown()
    }
case "patterns-leading-10k", "patterns-prefix-10k":
    let shape: PatternPublishWorkload.Shape = arguments[1] == "patterns-leading-10k" ? .leadingDoubleStars : .distinctPrefixes
    runBlocking {
        let workload = try await PatternPublishWorkload.start(patternCount: 10_000, shape: shape)
        consume(try await workload.publish(count: count))
        await workload.shutdown()
    }
case "roundtrip":
    runBlocking {
        let workload = try LoopRoundTripWorkload()
        for _ in 0..<count { consume(await workload.roundTrip()) }
        await workload.shutdown()
    }
default:
    fatalError("unreachable")
}
