import Benchmark
import RillMicroWorkloads

// Rill microbenchmarks; see Benchmarks/Micro/README.md. Run with Benchmarks/Micro/run.sh.
//
// Metrics marked `*` in the output are per operation (the inner loop of `scalingFactor`
// operations is divided out). `instructions` needs hardware counters (perf_event_open); where
// the machine has none, package-benchmark leaves the row out and run.sh --instructions counts
// them under valgrind instead.

/// Holds what a benchmark's setup made, for its closure and its teardown.
final class Holder<Value>: @unchecked Sendable {
    var value: Value?
}

let benchmarks: @Sendable () -> Void = {
    let metrics: [BenchmarkMetric] = [.instructions, .mallocCountTotal, .wallClock, .throughput]
    let perThousand = Benchmark.Configuration(
        metrics: metrics, timeUnits: .nanoseconds, scalingFactor: .kilo, maxDuration: .seconds(3), maxIterations: 2_000)
    let perOperation = Benchmark.Configuration(
        metrics: metrics, timeUnits: .microseconds, scalingFactor: .one, maxDuration: .seconds(4), maxIterations: 2_000)

    // MARK: HTTP parsing

    Benchmark("HTTP parse: GET head 314 B, whole buffer", configuration: perThousand) { benchmark in
        var workload = HTTPParsingWorkload()
        let request = HTTPParsingWorkload.getRequest
        for _ in benchmark.scaledIterations { blackHole(workload.parseWhole(request)) }
    }
    Benchmark("HTTP parse: POST head 146 B + 56 B body, whole buffer", configuration: perThousand) { benchmark in
        var workload = HTTPParsingWorkload()
        let request = HTTPParsingWorkload.postRequest
        for _ in benchmark.scaledIterations { blackHole(workload.parseWhole(request)) }
    }
    Benchmark("HTTP parse: GET head 314 B, byte by byte", configuration: perThousand) { benchmark in
        var workload = HTTPParsingWorkload()
        let request = HTTPParsingWorkload.getRequest
        for _ in benchmark.scaledIterations { blackHole(workload.parseByteByByte(request)) }
    }

    // MARK: SSE encoding

    Benchmark("SSE encode: small event into reused buffer", configuration: perThousand) { benchmark in
        var buffer: [UInt8] = []
        let event = SSEEncodingWorkload.smallEvent
        for _ in benchmark.scaledIterations { blackHole(SSEEncodingWorkload.encode(event, into: &buffer)) }
    }
    Benchmark("SSE encode: small event, encoded() new array", configuration: perThousand) { benchmark in
        let event = SSEEncodingWorkload.smallEvent
        for _ in benchmark.scaledIterations { blackHole(SSEEncodingWorkload.encoded(event)) }
    }
    Benchmark("SSE encode: 8-line data event into reused buffer", configuration: perThousand) { benchmark in
        var buffer: [UInt8] = []
        let event = SSEEncodingWorkload.multiLineEvent
        for _ in benchmark.scaledIterations { blackHole(SSEEncodingWorkload.encode(event, into: &buffer)) }
    }

    // MARK: Routing (whole in-process request via RillTesting; see RoutingWorkload)

    let fiftyRoutes = Holder<RoutingWorkload>()
    Benchmark("Route: 50 routes, GET with 2 params, app.test(.router)", configuration: perThousand) { benchmark in
        blackHole(try await fiftyRoutes.value!.get(RoutingWorkload.paramPath, count: benchmark.scaledIterations.count))
    } setup: {
        fiftyRoutes.value = try await RoutingWorkload.start(router: RoutingWorkload.fiftyRoutes())
    } teardown: {
        try await fiftyRoutes.value?.shutdown()
        fiftyRoutes.value = nil
    }
    let oneRoute = Holder<RoutingWorkload>()
    Benchmark("Route: 1 literal route, GET, app.test(.router)", configuration: perThousand) { benchmark in
        blackHole(try await oneRoute.value!.get(RoutingWorkload.literalPath, count: benchmark.scaledIterations.count))
    } setup: {
        oneRoute.value = try await RoutingWorkload.start(router: RoutingWorkload.oneRoute())
    } teardown: {
        try await oneRoute.value?.shutdown()
        oneRoute.value = nil
    }

    // MARK: Request path (parse + route + handler + serialize; see RequestPathWorkload)

    let requestPath = Holder<RequestPathWorkload>()
    Benchmark("Request path: keep-alive GET /ping, parse + route + serialize", configuration: perThousand) {
        benchmark in
        blackHole(try await requestPath.value!.run(count: benchmark.scaledIterations.count))
    } setup: {
        requestPath.value = try await RequestPathWorkload.start()
    } teardown: {
        try await requestPath.value?.shutdown()
        requestPath.value = nil
    }

    // MARK: Pub/sub fan-out to 10,000 subscriptions (one publish per operation)

    let consumerTasks = Holder<FanOutWorkload>()
    Benchmark("Fan-out: 1 publish to 10k subscriptions, consumer tasks", configuration: perOperation) { benchmark in
        blackHole(try await consumerTasks.value!.publish(count: benchmark.scaledIterations.count))
    } setup: {
        consumerTasks.value = try await FanOutWorkload.start(.consumerTasks)
    } teardown: {
        await consumerTasks.value?.shutdown()
        consumerTasks.value = nil
    }
    let brokerOnly = Holder<FanOutWorkload>()
    Benchmark("Fan-out: 1 publish to 10k subscriptions, broker only", configuration: perOperation) { benchmark in
        blackHole(try await brokerOnly.value!.publish(count: benchmark.scaledIterations.count))
    } setup: {
        brokerOnly.value = try await FanOutWorkload.start(.brokerOnly)
    } teardown: {
        await brokerOnly.value?.shutdown()
        brokerOnly.value = nil
    }
    // MARK: Pattern matching on publish: 0, 100 and 10,000 pattern subscriptions registered

    for (count, shape) in [
        (0, PatternPublishWorkload.Shape.distinctPrefixes), (100, .distinctPrefixes), (10_000, .distinctPrefixes),
        (100, .wildcardsSideBySide), (10_000, .wildcardsSideBySide), (10_000, .leadingDoubleStars),
    ] {
        let workload = Holder<PatternPublishWorkload>()
        let shapeName =
            switch shape {
            case .distinctPrefixes: "users/<i>/**"
            case .wildcardsSideBySide: "users/*-<i>/**"
            case .leadingDoubleStars: "**/<i>/inbox"
            }
        Benchmark("Pattern publish: \(count) patterns \(shapeName), publish to users/42/inbox", configuration: perThousand) {
            benchmark in
            blackHole(try await workload.value!.publish(count: benchmark.scaledIterations.count))
        } setup: {
            workload.value = try await PatternPublishWorkload.start(patternCount: count, shape: shape)
        } teardown: {
            await workload.value?.shutdown()
            workload.value = nil
        }
    }

    let roundTrip = Holder<LoopRoundTripWorkload>()
    Benchmark("Loop round trip: Task onto the loop and back (baseline)", configuration: perOperation) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(await roundTrip.value!.roundTrip()) }
    } setup: {
        roundTrip.value = try LoopRoundTripWorkload()
    } teardown: {
        await roundTrip.value?.shutdown()
        roundTrip.value = nil
    }

    // MARK: Publish contention: 1, 2, 4 and 8 loops publishing into one broker, no subscribers

    // One operation is a round: each loop publishes 5,000 events (PublishContentionWorkload); the
    // figures per publish are custom metrics, as a round's size grows with the loops. The setup
    // runs a round first (it fills the histories), so no warm-up iteration.
    let contention = Benchmark.Configuration(
        metrics: [.wallClock] + PublishContentionMetrics.all, timeUnits: .milliseconds, warmupIterations: 0, scalingFactor: .one,
        maxDuration: .seconds(5), maxIterations: 200)
    for threads in [1, 2, 4, 8] {
        for channels in [PublishContentionWorkload.Channels.own, .shared] {
            let workload = Holder<PublishContentionWorkload>()
            let name =
                "Publish contention: \(threads) loop thread\(threads == 1 ? "" : "s"), "
                + (channels == .own ? "own channel each" : "one shared channel")
            Benchmark(name, configuration: contention) { benchmark in
                PublishContentionMetrics.record(await workload.value!.round(), in: benchmark)
            } setup: {
                workload.value = try await PublishContentionWorkload.start(threads: threads, channels: channels)
            } teardown: {
                await workload.value?.shutdown()
                workload.value = nil
            }
        }
    }
}

/// The per-publish figures of a publish-contention round (5,000 publishes per loop).
enum PublishContentionMetrics {
    static let throughput = BenchmarkMetric.custom("Publishes/s, all loops", polarity: .prefersLarger, useScalingFactor: false)
    static let wallPerPublish = BenchmarkMetric.custom("Wall ns per publish, all loops", useScalingFactor: false)
    static let loopPerPublish = BenchmarkMetric.custom("Loop ns per publish, as a loop sees it", useScalingFactor: false)
    static let cpuPerPublish = BenchmarkMetric.custom("CPU ns per publish", useScalingFactor: false)
    static let lockSleeps = BenchmarkMetric.custom("Lock sleeps per 100k publishes", useScalingFactor: false)
    static let preemptions = BenchmarkMetric.custom("Preemptions per 100k publishes", useScalingFactor: false)
    static let all = [throughput, wallPerPublish, loopPerPublish, cpuPerPublish, lockSleeps, preemptions]

    static func record(_ round: PublishContentionWorkload.Round, in benchmark: Benchmark) {
        benchmark.measurement(throughput, round.publishesPerSecond)
        benchmark.measurement(wallPerPublish, round.wallNanosecondsPerPublish)
        benchmark.measurement(loopPerPublish, round.publisherNanosecondsPerPublish)
        benchmark.measurement(cpuPerPublish, round.cpuNanosecondsPerPublish)
        benchmark.measurement(lockSleeps, round.lockSleepsPer100k)
        benchmark.measurement(preemptions, round.preemptionsPer100k)
    }
}
