// swift-tools-version:6.1
// Microbenchmarks for Rill (package-benchmark). A nested package on purpose: it depends on the
// root package by path and only uses its public API, and the benchmark package (with its malloc
// interposer) never enters the main build graph. Run: Benchmarks/Micro/run.sh
import PackageDescription

let package = Package(
    name: "RillMicroBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Rill", path: "../.."),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The measured operations, shared by the benchmarks and the instruction counter.
        .target(
            name: "RillMicroWorkloads",
            dependencies: [
                .product(name: "Rill", package: "Rill"),
                .product(name: "RillTesting", package: "Rill"),
            ]
        ),
        // Runs one workload N times, for instruction counts under valgrind (run.sh --instructions)
        // on machines without hardware counters.
        .executableTarget(name: "RillMicroCount", dependencies: ["RillMicroWorkloads"]),
        // package-benchmark finds its targets under Benchmarks/<TargetName>/ of this package.
        .executableTarget(
            name: "RillMicro",
            dependencies: [
                "RillMicroWorkloads",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/RillMicro",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
