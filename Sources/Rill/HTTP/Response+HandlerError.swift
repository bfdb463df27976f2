package import Logging

extension Response {
    /// The response to an error a handler threw — the one mapping the live server and the
    /// in-process test client share:
    ///
    /// - an ``HTTPError``: its status and JSON body;
    /// - `CancellationError` or ``ConnectionClosedError`` (the client left, or the server is
    ///   shutting down): 503 "the request was cancelled";
    /// - anything else: logged with the request's path, and a 500 that reveals nothing.
    package init(handlerError error: any Error, logger: Logger, path: some StringProtocol) {
        if let error = error as? HTTPError {
            self = error.response
        } else if error is CancellationError || error is ConnectionClosedError {
            self = HTTPError(.serviceUnavailable, message: "the request was cancelled").response
        } else {
            logger.error("handler failed", metadata: ["path": "\(path)", "error": "\(String(reflecting: error))"])
            self = HTTPError(.internalServerError).response
        }
    }
}
