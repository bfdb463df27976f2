// swift-tools-version:6.1
import PackageDescription

/// Settings every Rill target shares: Swift 6 language mode plus the upcoming features that keep
/// imports and existentials explicit.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "Rill",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Rill", targets: ["Rill"]),
        .library(name: "RillTesting", targets: ["RillTesting"]),
        .library(name: "RillRedis", targets: ["RillRedis"]),
        .library(name: "RillJWT", targets: ["RillJWT"]),
        .executable(name: "Hello", targets: ["Hello"]),
        .executable(name: "Notifications", targets: ["Notifications"]),
        .executable(name: "Counter", targets: ["Counter"]),
        .executable(name: "SSETestServer", targets: ["SSETestServer"]),
        .executable(name: "rill-load", targets: ["RillLoad"]),
        .executable(name: "SSEIdleServer", targets: ["SSEIdleServer"]),
        .executable(name: "rill-hub", targets: ["Hub"]),
        .executable(name: "WebhookRelay", targets: ["WebhookRelay"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        // Tests only: a third-party SSE decoder that RillClientTests checks Rill's streams against.
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.13.4"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        // Examples/WebhookRelay: HMAC-SHA256 of GitHub webhook bodies. 4.x is what jwt-kit 5.8 needs.
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        // RillJWT only: JWT verification (HS256, RS256, ES256, JWKS). Apps that do not import
        // RillJWT never build it.
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        // `make docs` only: the `generate-documentation` command for Sources/Rill/Rill.docc.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // The framework's metrics (a no-op until an application bootstraps a backend).
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        // Application runs as a Service in a ServiceGroup (graceful shutdown on SIGTERM).
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // rill-hub's /metrics: the Prometheus backend for swift-metrics.
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // System library: libuv from Debian's libuv1-dev. Only RillCore imports it.
        .systemLibrary(name: "CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        // System library: hiredis from Debian's libhiredis-dev. Only RillRedis imports it.
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        // System library: nghttp2 from Debian's libnghttp2-dev. Only RillHTTP2 imports it.
        .systemLibrary(name: "CNGHTTP2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        // System library: OpenSSL 3 from Debian's libssl-dev. Only RillTLS imports it.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // RillTLS's C over OpenSSL: the ALPN callback, the transport BIO, per-thread buffers.
        .target(name: "CRillTLS", dependencies: ["COpenSSL"]),
        // hiredis's libuv adapter, fixed (the stock 0.14 one hangs on socket errors).
        .target(name: "CRedisLibUV", dependencies: ["CLibUV", "CHiredis"]),

        // The event loop, the loop-thread executor, timers and TCP handles.
        .target(
            name: "RillCore",
            dependencies: ["CLibUV", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        // TLS as a Transport: OpenSSL through a BIO over the loop's buffers, on the loop.
        .target(
            name: "RillTLS",
            dependencies: ["RillCore", "COpenSSL", "CRillTLS", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        // HTTP/1.1 on bytes: incremental parser, serializer, connection state machine. No sockets.
        .target(
            name: "RillHTTP",
            dependencies: [.product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: strictSettings
        ),
        // HTTP/2 on bytes: nghttp2's framing, HPACK and flow control behind a small session type.
        .target(
            name: "RillHTTP2",
            dependencies: ["CNGHTTP2", .product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: strictSettings
        ),
        // Server-Sent Events on bytes: the event type, the encoder and a spec-exact client parser.
        .target(name: "RillSSE", swiftSettings: strictSettings),
        // Publish/subscribe of events on channels: brokers, subscriptions, history. No HTTP.
        .target(
            name: "RillPubSub",
            dependencies: [
                "RillCore", "RillSSE", .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            swiftSettings: strictSettings
        ),
        // The broker shared across processes: Redis pub/sub and streams via hiredis on the loop.
        .target(
            name: "RillRedis",
            dependencies: [
                "RillCore", "RillSSE", "RillPubSub", "CHiredis", "CRedisLibUV",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The framework users import: application, router, middleware, handlers, responses.
        .target(
            name: "Rill",
            dependencies: [
                "RillCore", "RillHTTP", "RillHTTP2", "RillSSE", "RillPubSub", "RillTLS",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // JWT authorization of event streams and publishing: a verified token's claims decide
        // which channels a request may subscribe to or publish to (jwt-kit stays inside).
        .target(
            name: "RillJWT",
            dependencies: ["Rill", "RillPubSub", .product(name: "JWTKit", package: "jwt-kit")],
            swiftSettings: strictSettings
        ),
        // What users import into their tests: in-process and live test clients, SSE test client.
        .target(name: "RillTesting", dependencies: ["Rill", "RillCore", "RillHTTP"], swiftSettings: strictSettings),

        .executableTarget(
            name: "Notifications",
            dependencies: ["Rill", "RillRedis", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/Notifications",
            // The page, served from the source tree at run time (see Notifications.swift).
            exclude: ["Public"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "Counter",
            dependencies: ["Rill", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/Counter",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "Hello",
            dependencies: ["Rill", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/Hello",
            swiftSettings: strictSettings
        ),
        // The server RillClientTests start as a subprocess for browsers and third-party clients.
        .executableTarget(
            name: "SSETestServer",
            dependencies: ["Rill", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/SSETestServer",
            swiftSettings: strictSettings
        ),

        // GitHub webhooks (HMAC-verified) relayed to SSE subscribers: the routes live in a library
        // so WebhookRelayTests can build the same application in process.
        .target(
            name: "WebhookRelayCore",
            dependencies: ["Rill", .product(name: "Crypto", package: "swift-crypto")],
            path: "Examples/WebhookRelay/Core",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "WebhookRelay",
            dependencies: ["Rill", "WebhookRelayCore", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/WebhookRelay/Main",
            swiftSettings: strictSettings
        ),

        // rill-hub: a standalone pub/sub hub (publish over HTTP, SSE out, metrics, dashboard).
        // HubCore builds the application so that HubTests can test it without a subprocess.
        .target(
            name: "HubCore",
            dependencies: ["Rill", "RillRedis", "RillJWT", .product(name: "Prometheus", package: "swift-prometheus")],
            path: "Examples/Hub/Core",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "Hub",
            dependencies: [
                "HubCore", "Rill", "RillRedis", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Examples/Hub",
            exclude: ["Core", "README.md"],
            swiftSettings: strictSettings
        ),

        // The load harness (`rill-load idle|…`): many SSE clients on one RillCore loop.
        .executableTarget(
            name: "RillLoad",
            dependencies: [
                "RillCore", "RillHTTP", "RillHTTP2", "RillSSE", "RillTLS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Benchmarks/RillLoad",
            swiftSettings: strictSettings
        ),
        // The server `make bench` measures: `GET /stream` is an idle event stream (heartbeats only).
        .executableTarget(
            name: "SSEIdleServer",
            dependencies: ["Rill", "RillRedis", "CMallocStats", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/SSEIdleServer",
            swiftSettings: strictSettings
        ),
        // glibc's mallinfo2 for SSEIdleServer --heap-stats (Swift's Glibc module lacks <malloc.h>).
        .target(name: "CMallocStats", path: "Benchmarks/CMallocStats"),

        // Counts hops from a loop thread to the global executor, for the no-hidden-hop tests.
        .target(name: "CRillTestHooks", path: "Tests/CRillTestHooks"),
        .testTarget(
            name: "RillCoreTests", dependencies: ["RillCore", "CRillTestHooks", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings),
        .testTarget(
            name: "RillHTTPTests", dependencies: ["RillHTTP", .product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: strictSettings),
        .testTarget(name: "RillSSETests", dependencies: ["RillSSE", "RillTestSupport"], swiftSettings: strictSettings),
        // The HTTP/2 client session against the server session, bytes piped in memory.
        .testTarget(
            name: "RillHTTP2Tests", dependencies: ["RillHTTP2", .product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: strictSettings),
        .testTarget(
            name: "RillPubSubTests",
            dependencies: ["RillPubSub", "RillCore", "RillSSE", .product(name: "DequeModule", package: "swift-collections")],
            swiftSettings: strictSettings),
        // Against a real redis-server each test starts on a free loopback port.
        .testTarget(
            name: "RillRedisTests",
            dependencies: ["RillRedis", "RillCore", "RillPubSub", "RillSSE", "RillTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "RillTests",
            // RillRedis: the DocC catalog's Redis snippets are compiled here (Tests/RillTests/Documentation).
            dependencies: [
                "Rill", "RillCore", "RillHTTP", "RillRedis", "RillTesting", "CRillTestHooks", "RillTestSupport", "RillTLS",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings),
        // Rill's SSE against real clients: swift-openapi-runtime's decoder, a Python client and
        // headless Chromium, all talking to Examples/SSETestServer over loopback.
        .testTarget(
            name: "RillClientTests",
            dependencies: ["Rill", "RillTesting", "RillTestSupport", .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime")],
            swiftSettings: strictSettings
        ),
        // Examples/Notifications as two real processes sharing one real redis-server, over
        // loopback: fan-out across processes, replay on the other process, a Redis outage.
        // What several test targets share: child processes (examples, redis-server) under a watchdog.
        .target(name: "RillTestSupport", path: "Tests/RillTestSupport", swiftSettings: strictSettings),
        .testTarget(name: "RillIntegrationTests", dependencies: ["Rill", "RillTesting", "RillTestSupport"], swiftSettings: strictSettings),
        // The load harness: its response decoder, and each mode run as a process against rill-hub.
        .testTarget(name: "RillLoadTests", dependencies: ["RillLoad", "RillTestSupport"], swiftSettings: strictSettings),
        // rill-hub's endpoints over loopback sockets, with HubCore's application.
        .testTarget(
            name: "HubTests",
            dependencies: [
                "HubCore", "Rill", "RillJWT", "RillTesting", "RillTestSupport", .product(name: "JWTKit", package: "jwt-kit"),
            ],
            exclude: ["browser"], swiftSettings: strictSettings
        ),
        // RillJWT: tokens made in the tests with jwt-kit (HS256, RS256, ES256), over loopback.
        .testTarget(
            name: "RillJWTTests",
            dependencies: [
                "RillJWT", "Rill", "RillPubSub", "RillTesting", "RillTestSupport", "CRillTestHooks",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        // Examples/WebhookRelay over loopback: signatures, events, a subscriber receiving the push.
        .testTarget(
            name: "WebhookRelayTests",
            dependencies: ["WebhookRelayCore", "Rill", "RillTesting", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings
        ),
    ]
)
