import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A running example executable of this build on 127.0.0.1 and a port the kernel picked, read
/// from the `listening on http://HOST:PORT` (or `https://`) line every example prints.
package final class ExampleProcess: Sendable {
    /// The product name, for messages.
    package let product: String
    /// The bound port.
    package let port: Int
    /// The child process.
    package let process: ChildProcess

    /// Starts `PRODUCT --host 127.0.0.1 --port 0 ARGUMENTS` and waits (at most 20 s) for its
    /// `listening on` line; with `openFileLimit`, under that `RLIMIT_NOFILE` (soft and hard,
    /// set by `/bin/sh`'s `ulimit -n` before it execs the product).
    package init(_ product: String, arguments: [String] = [], openFileLimit: Int? = nil) async throws {
        self.product = product
        let executable = try productExecutable(product)
        var command = [executable, "--host", "127.0.0.1", "--port", "0"] + arguments
        if let openFileLimit { command = ["/bin/sh", "-c", "ulimit -n \(openFileLimit) && exec \"$0\" \"$@\""] + command }
        let process = try ChildProcess(command, logPrefix: product.lowercased())
        self.process = process
        let prefix = "listening on http://"
        let line = try await withDeadline(.seconds(20), "\(product) startup") { () -> String? in
            while !process.hasExited {
                let lines = process.standardOutput.split(separator: "\n")
                if let line = lines.first(where: { $0.hasPrefix(prefix) || $0.hasPrefix("listening on https://") }) {
                    return String(line)
                }
                usleep(10_000)
            }
            return nil
        }
        guard let line, let colon = line.lastIndex(of: ":"), let port = Int(line[line.index(after: colon)...]), port > 0
        else {
            throw HarnessError("\(product) printed no \"\(prefix)HOST:PORT\"\n\(process.standardOutput)\n\(process.standardError)")
        }
        self.port = port
    }

    /// SIGTERM, then wait at most 10 s; returns how it ended ("exit status 0" for a clean
    /// graceful shutdown).
    package func terminate() async throws -> String {
        let process = self.process
        process.kill(SIGTERM)
        return try await withDeadline(.seconds(15), "\(product) shutdown") {
            process.waitForExit(timeout: .seconds(10)) ?? "still running 10 s after SIGTERM"
        }
    }
}
