import RillCore

extension InMemoryBroker {
    /// One loop's part of the broker: its subscribers by channel (confined to the loop) and the
    /// events other loops and threads published for them (the inbox, under the broker's lock),
    /// delivered in one pass per wakeup.
    final class LoopShare: @unchecked Sendable {
        let loop: EventLoop
        /// The loop's index in ``InMemoryBroker/eventLoops``.
        let index: Int

        /// The loop's subscriptions per channel. Loop-confined.
        private var subscribers: [String: SubscriberList] = [:]
        /// Events handed to this loop's subscriptions. Loop-confined.
        private(set) var deliveredCount = 0

        /// Events published elsewhere for this loop's subscribers, in id order. Under the lock.
        var inbox: [BrokerEvent] = []
        /// Channels whose events did not fit in the inbox: their subscriptions on this loop end
        /// as slow consumers at the next drain. Under the lock.
        var overflowedChannels: Set<String> = []
        /// Whether a drain is queued on the loop. Under the lock.
        var drainIsScheduled = false

        /// A channel's subscribers on this loop (a class, so that the list is changed in place).
        final class SubscriberList {
            var subscriptions: [Subscription] = []
        }

        /// What a drain takes out of the inbox.
        struct Backlog {
            var events: [BrokerEvent] = []
            var overflowedChannels: Set<String> = []
        }

        init(loop: EventLoop, index: Int) {
            self.loop = loop
            self.index = index
        }

        /// Takes the inbox. Under the lock.
        func takeInbox() -> Backlog {
            var backlog = Backlog()
            if !inbox.isEmpty { swap(&backlog.events, &inbox) }
            if !overflowedChannels.isEmpty { swap(&backlog.overflowedChannels, &overflowedChannels) }
            return backlog
        }

        /// Delivers what the inbox held, then ends the subscriptions of the channels that
        /// overflowed it. Loop thread, outside the lock.
        func process(_ backlog: Backlog) {
            for event in backlog.events { deliver(event) }
            for name in backlog.overflowedChannels {
                guard let list = subscribers[name] else { continue }
                for subscription in list.subscriptions { subscription.end(with: .slowConsumer) }
            }
        }

        /// Hands `event` to this loop's subscribers of its channel; returns how many took it.
        /// Loop thread, outside the lock (a subscriber may end, and unsubscribing takes it).
        @discardableResult
        func deliver(_ event: BrokerEvent) -> Int {
            guard let list = subscribers[event.channel] else { return 0 }
            // A copy: a subscriber that overflows leaves the list meanwhile.
            let subscriptions = list.subscriptions
            var reached = 0
            for subscription in subscriptions where subscription.deliver(event) { reached += 1 }
            deliveredCount += reached
            return reached
        }

        /// Ends every subscription on the loop (it is stopping) with
        /// ``SubscriptionError/brokerClosed``. Loop thread.
        func endAll() {
            for list in Array(subscribers.values) {
                for subscription in list.subscriptions { subscription.end(with: .brokerClosed) }
            }
        }

        /// Adds `subscription` to the list of its `position`-th channel. Loop thread.
        func add(_ subscription: Subscription, to name: String, at position: Int) {
            let list: SubscriberList
            if let existing = subscribers[name] {
                list = existing
            } else {
                list = SubscriberList()
                subscribers[name] = list
            }
            subscription.addToChannelList(&list.subscriptions, at: position)
        }

        /// Removes `subscription` from the list of its `position`-th channel; false if it was
        /// not in it. Loop thread.
        func remove(_ subscription: Subscription, from name: String, at position: Int) -> Bool {
            guard let list = subscribers[name], subscription.removeFromChannelList(&list.subscriptions, at: position) else {
                return false
            }
            if list.subscriptions.isEmpty { subscribers[name] = nil }
            return true
        }

        /// Events dropped by the `dropOldest` policy from subscriptions still open. Loop thread.
        var droppedByLiveSubscriptions: Int {
            subscribers.values.reduce(0) { total, list in total + list.subscriptions.reduce(0) { $0 + $1.dropped } }
        }

        /// Runs `body` on the loop and returns its result; nil if the loop refused it.
        func onLoop<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T? {
            if loop.inEventLoop { return body() }
            return await withUnsafeContinuation { continuation in
                if !loop.execute({ continuation.resume(returning: body()) }) { continuation.resume(returning: nil) }
            }
        }
    }

    /// Queues `event` for `share`'s loop; returns whether a drain must be scheduled. Under the
    /// lock. Past ``BrokerConfiguration/maxPendingCrossLoopEvents`` the event is not queued
    /// and the loop's subscribers of its channel end at the next drain.
    func queue(_ event: BrokerEvent, for share: LoopShare) -> Bool {
        if share.inbox.count < configuration.maxPendingCrossLoopEvents {
            share.inbox.append(event)
        } else {
            share.overflowedChannels.insert(event.channel)
        }
        guard !share.drainIsScheduled else { return false }
        share.drainIsScheduled = true
        return true
    }

    /// Queues a drain of `share`'s inbox on its loop (one per batch of events). Outside the lock.
    func scheduleDrain(of share: LoopShare) {
        // Clean-up of bounded work (one pending drain per loop): never refused for a full
        // queue. Refused only once the loop stopped, when its subscribers are gone.
        share.loop.executeBypassingLimit { [self] in
            let backlog = self.lock.withLock { _ in
                share.drainIsScheduled = false
                return share.takeInbox()
            }
            share.process(backlog)
        }
    }
}
