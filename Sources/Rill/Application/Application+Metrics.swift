extension Application {
    /// Brings the framework's swift-metrics up to date now: connections (in total and per
    /// loop), event streams, subscribers and channels, events published, delivered and
    /// dropped, slow-client disconnects, accept errors, refused connections, write timeouts.
    ///
    /// The server counts these on its loops in plain integers; the application reports them
    /// every ``ServerConfiguration/metricsReportingInterval`` while it runs. Call this before
    /// exporting (a Prometheus scrape) for figures as of this moment. The per-request metrics
    /// (`rill_http_requests_total`, `rill_request_duration_seconds`) are recorded as each
    /// response starts and need no report. Names and labels: ``MetricName``.
    public func reportMetrics() async {
        let server = await serverStatistics()
        let broker = await broker.statistics(includingChannels: false)
        metricsReporter.report(server: server, broker: broker)
    }

    /// Reports every ``ServerConfiguration/metricsReportingInterval`` until cancelled, on the
    /// first loop.
    func startPeriodicMetricsReports() -> Task<Void, Never>? {
        guard let interval = configuration.metricsReportingInterval, interval > .zero else { return nil }
        return Task(executorPreference: eventLoop.executor) { [weak self, eventLoop] in
            while !Task.isCancelled {
                do { try await eventLoop.sleep(for: interval) } catch { return }
                guard let self else { return }
                await self.reportMetrics()
            }
        }
    }
}
