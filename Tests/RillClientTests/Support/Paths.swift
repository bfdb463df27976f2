import Foundation

/// Where the tests find the test server, the Python scripts, the Python interpreter and the
/// build folder, whether the package was built into `.build` or a custom `--scratch-path`.
enum Paths {
    /// The package root: this file is `<root>/Tests/RillClientTests/Support/Paths.swift`.
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// `Tests/browser/<name>`.
    static func browserScript(_ name: String) -> URL {
        packageRoot.appendingPathComponent("Tests/browser/\(name)")
    }

    /// The folders that may hold this build's products, best first: the test bundle's own folder
    /// (SwiftPM puts every product of a build next to it, whatever the scratch path), then the
    /// default `.build/debug`.
    static var productDirectories: [URL] {
        var directories: [URL] = []
        if let executable = Bundle.main.executableURL {
            directories.append(executable.resolvingSymlinksInPath().deletingLastPathComponent())
        }
        if let first = CommandLine.arguments.first, first.contains("/") {
            directories.append(URL(fileURLWithPath: first).resolvingSymlinksInPath().deletingLastPathComponent())
        }
        directories.append(packageRoot.appendingPathComponent(".build/debug").resolvingSymlinksInPath())
        return directories
    }

    /// The `SSETestServer` executable of this build (`RILL_SSE_TEST_SERVER` overrides).
    static func testServer() throws -> URL {
        if let override = ProcessInfo.processInfo.environment["RILL_SSE_TEST_SERVER"] {
            return URL(fileURLWithPath: override)
        }
        for directory in productDirectories {
            let candidate = directory.appendingPathComponent("SSETestServer")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw HarnessError(
            "SSETestServer not found in \(productDirectories.map(\.path)); build it with `swift build --build-tests`")
    }

    /// The build folder (`.build`, or the `--scratch-path`) of the products in use: the nearest
    /// ancestor of the test server whose name starts with `.build`.
    static func scratchDirectory() -> URL {
        if var directory = try? testServer().deletingLastPathComponent() {
            while directory.path != "/" {
                if directory.lastPathComponent.hasPrefix(".build") { return directory }
                directory = directory.deletingLastPathComponent()
            }
        }
        return packageRoot.appendingPathComponent(".build")
    }

    /// The Python interpreter: `RILL_TEST_PYTHON` (the Makefile sets it to the interpreter that
    /// it pip-installed the client packages into), else the `python3` on `PATH`.
    static var python: [String] {
        if let python = ProcessInfo.processInfo.environment["RILL_TEST_PYTHON"], !python.isEmpty {
            return [python]
        }
        return ["/usr/bin/env", "python3"]
    }
}
