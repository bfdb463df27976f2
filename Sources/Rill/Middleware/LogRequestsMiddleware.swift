public import Logging

/// Logs one line per request with swift-log: method, path, status and duration.
///
/// ```swift
/// router.add(middleware: LogRequestsMiddleware(.info))
/// ```
public struct LogRequestsMiddleware: Middleware {
    /// The level of the per-request line.
    public let level: Logger.Level

    /// Logs at `level`.
    public init(_ level: Logger.Level = .info) { self.level = level }

    public func handle(_ request: Request, context: RequestContext, next: Responder) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            log(request, context: context, status: response.status.code, since: start)
            return response
        } catch let error as HTTPError {
            log(request, context: context, status: error.status.code, since: start)
            throw error
        } catch {
            log(request, context: context, status: 500, since: start)
            throw error
        }
    }

    private func log(_ request: Request, context: RequestContext, status: Int, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let microseconds = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        context.logger.log(
            level: level, "\(request.method) \(request.target) \(status)",
            metadata: [
                "status": "\(status)", "duration_us": "\(microseconds)",
                "peer": "\(context.remoteAddress?.description ?? "-")",
            ])
    }
}
