extension EventLoop {
    /// Registers work that runs on the loop thread at the end of every drain of the loop's
    /// executor — after the jobs of that drain, so after whatever a handler just did — and
    /// returns a token for ``removeDrainObserver(_:)``.
    ///
    /// `body` returns whether it has more to do; if so, the loop polls I/O without blocking and
    /// calls it again at the next drain. This is how deferred, batched work (such as writing
    /// what several publishes queued for many connections) runs soon after it was queued while
    /// I/O is still serviced between batches. The executor drains at least once per loop
    /// iteration (prepare and check), so queued work never waits for a blocking poll. Loop
    /// thread only.
    package func addDrainObserver(_ body: @escaping () -> Bool) -> Int {
        preconditionInEventLoop()
        return executor.addDrainObserver(body)
    }

    /// Removes a drain observer added with ``addDrainObserver(_:)``. Loop thread only.
    package func removeDrainObserver(_ token: Int) {
        preconditionInEventLoop()
        executor.removeDrainObserver(token)
    }
}
