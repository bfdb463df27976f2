import RillCore

/// Delivery of a broker's events to subscriptions on several event loops: each loop's
/// subscriptions by channel (confined to the loop), and per loop an inbox of what was published
/// elsewhere for them, delivered in one pass per wakeup — **one** cross-thread wakeup per loop
/// per batch of events, however many subscribers each loop has.
///
/// The inboxes are ordered: a loop takes events, new subscriptions (``Message/attach(_:)``) and
/// channel ends (``Message/end(channel:error:)``) in the order they were queued, so a broker that
/// queues from one place in its own order (the in-memory broker under ``lock``, the Redis
/// broker from its loop) keeps that order on every loop.
package final class LoopFanOut: @unchecked Sendable {
    /// What a loop's inbox carries.
    package enum Message {
        /// An event for the loop's subscribers of its channel (by name, by pattern, or only
        /// one of them: ``Audience``).
        case event(BrokerEvent, Audience = .everyone)
        /// A subscription made for this loop elsewhere: it joins the loop's lists now (unless it
        /// ended meanwhile), so it gets every event queued after this message.
        case attach(Subscription)
        /// The loop's subscriptions to `channel` end with `error`.
        case end(channel: String, error: SubscriptionError)
        /// The loop's subscriptions with patterns end with `error`.
        case endPatternSubscriptions(error: SubscriptionError)
    }

    /// Who an event is for. The in-memory broker hands each event once to everyone; the Redis
    /// broker receives an event once per pub/sub channel and once per matching pattern, and
    /// hands each copy to its own audience.
    package enum Audience: Sendable {
        /// The subscribers of its channel by name and by pattern, each once.
        case everyone
        /// Only the subscribers of its channel by name.
        case channelSubscribers
        /// Only the subscribers by pattern, each once, leaving out those that subscribe to its
        /// channel by name (they get it as ``channelSubscribers``).
        case patternSubscribers
    }

    /// The loops, in the broker's order.
    package let loops: [EventLoop]
    /// One per loop, by index.
    package let shares: [Share]
    /// Guards every inbox. The in-memory broker guards its shared state with it too, so that
    /// what it queues follows its id order.
    package let lock = SanitizerVisibleMutex<Void>(())
    private let shareIndexByLoop: [ObjectIdentifier: Int]
    /// ``BrokerConfiguration/maxPendingCrossLoopEvents``.
    private let maxPendingEvents: Int
    /// ``BrokerConfiguration/maxPendingCrossLoopBytes``.
    private let maxPendingBytes: Int

    package init(loops: [EventLoop], maxPendingEvents: Int, maxPendingBytes: Int = .max) {
        precondition(!loops.isEmpty, "a broker needs at least one event loop")
        self.loops = loops
        self.maxPendingEvents = maxPendingEvents
        self.maxPendingBytes = maxPendingBytes
        shares = loops.enumerated().map { Share(loop: $1, index: $0) }
        shareIndexByLoop = Dictionary(loops.enumerated().map { (ObjectIdentifier($1), $0) }) { first, _ in first }
    }

    /// The index of `loop`, if it is one of these loops.
    package func index(of loop: EventLoop) -> Int? {
        if shares.count == 1 { return loops[0] === loop ? 0 : nil }
        return shareIndexByLoop[ObjectIdentifier(loop)]
    }

    /// The share of the loop whose thread is calling; nil on any other thread.
    package func currentShare() -> Share? {
        if shares.count == 1 { return loops[0].inEventLoop ? shares[0] : nil }
        guard let loop = EventLoop.current, let index = shareIndexByLoop[ObjectIdentifier(loop)] else { return nil }
        return shares[index]
    }

    /// Queues `message` for `share`'s loop; returns whether a drain must be scheduled (with
    /// ``scheduleDrain(of:)``, outside the lock). Under ``lock``. Past
    /// ``BrokerConfiguration/maxPendingCrossLoopEvents`` events or
    /// ``BrokerConfiguration/maxPendingCrossLoopBytes`` bytes an event is not queued, and the
    /// loop's subscribers of its channel end as slow consumers at the next drain.
    package func queue(_ message: Message, for share: Share) -> Bool {
        if case .event(let event, _) = message {
            let cost = event.storedByteCount
            if share.pendingEventCount >= maxPendingEvents || cost > maxPendingBytes - share.pendingEventBytes {
                share.overflowedChannels.insert(event.channel)
            } else {
                share.pendingEventCount += 1
                share.pendingEventBytes += cost
                share.inbox.append(message)
            }
        } else {
            share.inbox.append(message)
        }
        guard !share.drainIsScheduled else { return false }
        share.drainIsScheduled = true
        return true
    }

    /// ``queue(_:for:)`` and the drain, for a caller that does not hold the lock.
    package func send(_ message: Message, to share: Share) {
        if lock.withLock({ _ in queue(message, for: share) }) { scheduleDrain(of: share) }
    }

    /// Queues a drain of `share`'s inbox on its loop (one per batch). Outside the lock.
    package func scheduleDrain(of share: Share) {
        // Bounded (one pending drain per loop): never refused for a full queue. Refused only
        // once the loop stopped, when its subscribers are gone.
        share.loop.executeBypassingLimit { [self] in
            let backlog = self.lock.withLock { _ in
                share.drainIsScheduled = false
                return share.takeInbox()
            }
            share.process(backlog)
        }
    }

    /// One loop's subscriptions and inbox.
    package final class Share: @unchecked Sendable {
        package let loop: EventLoop
        /// The loop's index in ``LoopFanOut/loops``.
        package let index: Int

        /// The loop's subscriptions per channel. Loop-confined.
        private var subscribers: [String: SubscriberList] = [:]
        /// The loop's subscriptions per pattern, and the same lists found by channel name.
        /// Loop-confined.
        private var patternSubscribers: [ChannelPattern: SubscriberList] = [:]
        private let patternIndex = ChannelPatternIndex<SubscriberList>()
        /// Events handed to this loop's subscriptions. Loop-confined.
        package private(set) var deliveredCount = 0

        /// What was queued for this loop, in order. Under the lock.
        fileprivate var inbox: [Message] = []
        fileprivate var pendingEventCount = 0
        fileprivate var pendingEventBytes = 0
        /// Channels whose events did not fit in the inbox. Under the lock.
        fileprivate var overflowedChannels: Set<String> = []
        /// Whether a drain is queued on the loop. Under the lock.
        fileprivate var drainIsScheduled = false

        /// A channel's or a pattern's subscribers on this loop (a class, so that the list changes
        /// in place).
        final class SubscriberList {
            var subscriptions: [Subscription] = []
            /// The pattern, for a pattern's list.
            let pattern: ChannelPattern?

            init(pattern: ChannelPattern? = nil) { self.pattern = pattern }
        }

        /// What a drain takes out of the inbox.
        package struct Backlog {
            fileprivate var messages: [Message] = []
            fileprivate var overflowedChannels: Set<String> = []
        }

        init(loop: EventLoop, index: Int) {
            self.loop = loop
            self.index = index
        }

        /// Whether anything waits in the inbox. Under the lock.
        package var hasQueuedMessages: Bool { !inbox.isEmpty || !overflowedChannels.isEmpty }

        /// Takes the inbox. Under the lock.
        package func takeInbox() -> Backlog {
            var backlog = Backlog()
            if !inbox.isEmpty { swap(&backlog.messages, &inbox) }
            pendingEventCount = 0
            pendingEventBytes = 0
            if !overflowedChannels.isEmpty { swap(&backlog.overflowedChannels, &overflowedChannels) }
            return backlog
        }

        /// Handles what the inbox held, in order, then ends the subscriptions of the channels
        /// that overflowed it. Loop thread, outside the lock.
        package func process(_ backlog: Backlog) {
            for message in backlog.messages {
                switch message {
                case .event(let event, let audience): deliver(event, to: audience)
                case .attach(let subscription): attach(subscription)
                case .end(let channel, let error): endSubscriptions(of: channel, with: error)
                case .endPatternSubscriptions(let error): endPatternSubscriptions(with: error)
                }
            }
            for name in backlog.overflowedChannels { endSubscriptions(of: name, with: .slowConsumer) }
        }

        /// Hands `event` to this loop's subscribers of its channel; returns how many took it.
        /// Loop thread, outside the lock (a subscriber may end, and unsubscribing may take it).
        ///
        /// A subscription whose channels and patterns match the event several times takes it
        /// once: through its channel, else through the first of its patterns that matches.
        @discardableResult
        package func deliver(_ event: BrokerEvent, to audience: Audience = .everyone) -> Int {
            var reached = 0
            if audience != .patternSubscribers, let list = subscribers[event.channel] {
                // A copy: a subscriber that overflows leaves the list meanwhile.
                let subscriptions = list.subscriptions
                for subscription in subscriptions where subscription.deliver(event) { reached += 1 }
            }
            if audience != .channelSubscribers, !patternSubscribers.isEmpty {
                let segments = ChannelPattern.segments(of: event.channel)
                patternIndex.forEachMatch(segments: segments) { list in
                    let subscriptions = list.subscriptions
                    for subscription in subscriptions
                    where !subscription.matchesBefore(list.pattern!, channel: event.channel, segments: segments)
                        && subscription.deliver(event)
                    {
                        reached += 1
                    }
                }
            }
            deliveredCount += reached
            return reached
        }

        /// Adds `subscription` to the lists of all its channels and patterns, unless it ended
        /// already. Loop thread.
        package func attach(_ subscription: Subscription) {
            guard subscription.isActive else { return }
            for (position, name) in subscription.channels.enumerated() { add(subscription, to: name, at: position) }
            for (position, pattern) in subscription.patterns.enumerated() {
                add(subscription, to: pattern, at: subscription.channels.count + position)
            }
        }

        /// Adds `subscription` to the list of `pattern`, its `entry`-th entry (its channels
        /// come first). Loop thread.
        package func add(_ subscription: Subscription, to pattern: ChannelPattern, at entry: Int) {
            let list: SubscriberList
            if let existing = patternSubscribers[pattern] {
                list = existing
            } else {
                list = SubscriberList(pattern: pattern)
                patternSubscribers[pattern] = list
                patternIndex[pattern] = list
            }
            subscription.addToChannelList(&list.subscriptions, at: entry)
        }

        /// Removes `subscription` from the list of `pattern`, its `entry`-th entry; false if it
        /// was not in it. Loop thread.
        package func remove(_ subscription: Subscription, from pattern: ChannelPattern, at entry: Int) -> Bool {
            guard let list = patternSubscribers[pattern], subscription.removeFromChannelList(&list.subscriptions, at: entry) else {
                return false
            }
            if list.subscriptions.isEmpty {
                patternSubscribers[pattern] = nil
                patternIndex[pattern] = nil
            }
            return true
        }

        /// Adds `subscription` to the list of its `position`-th channel. Loop thread.
        package func add(_ subscription: Subscription, to name: String, at position: Int) {
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
        package func remove(_ subscription: Subscription, from name: String, at position: Int) -> Bool {
            guard let list = subscribers[name], subscription.removeFromChannelList(&list.subscriptions, at: position) else {
                return false
            }
            if list.subscriptions.isEmpty { subscribers[name] = nil }
            return true
        }

        /// Ends this loop's subscriptions to `channel`, by name or by a pattern that matches it.
        /// Loop thread.
        package func endSubscriptions(of channel: String, with error: SubscriptionError) {
            var ending = subscribers[channel]?.subscriptions ?? []
            patternIndex.forEachMatch(of: channel) { ending.append(contentsOf: $0.subscriptions) }
            for subscription in ending { subscription.end(with: error) }
        }

        /// Ends every subscription with a pattern on the loop. Loop thread.
        package func endPatternSubscriptions(with error: SubscriptionError) {
            for list in Array(patternSubscribers.values) {
                for subscription in list.subscriptions { subscription.end(with: error) }
            }
        }

        /// Ends every subscription on the loop. Loop thread.
        package func endAll(with error: SubscriptionError) {
            for list in Array(subscribers.values) + Array(patternSubscribers.values) {
                for subscription in list.subscriptions { subscription.end(with: error) }
            }
        }

        /// Events dropped by the `dropOldest` policy from subscriptions still open (each counted
        /// once, whatever it subscribes to): a walk over every list of the loop, so the brokers
        /// ask only under that policy. Loop thread.
        package var droppedByLiveSubscriptions: Int {
            // Each subscription counted in the list of its first entry (its first channel, else
            // its first pattern): no set of every subscription per call.
            var dropped = 0
            for (name, list) in subscribers {
                for subscription in list.subscriptions where subscription.channels.first == name { dropped += subscription.dropped }
            }
            for (pattern, list) in patternSubscribers {
                for subscription in list.subscriptions where subscription.channels.isEmpty && subscription.patterns.first == pattern {
                    dropped += subscription.dropped
                }
            }
            return dropped
        }

        /// Runs `body` on the loop and returns its result; nil if the loop refused it.
        package func onLoop<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T? {
            if loop.inEventLoop { return body() }
            return await withUnsafeContinuation { continuation in
                if !loop.execute({ continuation.resume(returning: body()) }) { continuation.resume(returning: nil) }
            }
        }
    }
}
