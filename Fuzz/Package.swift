// swift-tools-version:6.1
// libFuzzer targets for Rill (`make fuzz`, see Fuzz/README.md). A separate package so that the
// main one stays untouched: it depends on Rill by path and reaches internals through
// `@testable import` (the build passes -enable-testing).
import PackageDescription

// A path dependency's identity is its directory's name, which depends on the checkout
// (`rill`, `main`, a worktree's name…): compute it instead of hard-coding it.
let rootIdentity = Context.packageDirectory.split(separator: "/").dropLast().last.map(String.init) ?? "rill"

/// Each fuzz target and the Rill product whose code it exercises.
let fuzzTargets: [(String, String)] = [
    ("FuzzHTTP", "Rill"), ("FuzzSSE", "Rill"), ("FuzzRedis", "RillRedis"), ("FuzzRoute", "Rill"),
]

let package = Package(
    name: "RillFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: [
        .target(name: "CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"]),
    ]
        + fuzzTargets.map { name, product in
            .executableTarget(name: name, dependencies: ["FuzzSupport", .product(name: product, package: rootIdentity)])
        }
)
