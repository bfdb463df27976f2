internal import DequeModule
public import RillCore

/// A single-consumer stream of ``BrokerEvent``s for one client, confined to one event loop.
///
/// Publishing hands each event to the subscription synchronously (O(1), never waiting); the
/// consumer takes them with `for try await`. Events wait in a bounded buffer (the broker's
/// ``BrokerConfiguration/subscriberBufferCount``) and the overflow policy decides what happens
/// when it is full. Cancelling the consuming task ends the iteration and unsubscribes at once,
/// so a client that leaves a quiet channel leaves nothing behind.
///
/// Why not `AsyncStream`: measured on the loop executor it costs ~6 executor enqueues per event
/// and ~1.2 KB more per waiting subscriber; this type costs one enqueue and ~100 bytes.
///
/// - Important: iterate on the subscription's event loop (handlers already run there); from
///   elsewhere every `next()` hops to the loop.
public final class Subscription: AsyncSequence, @unchecked Sendable {
    public typealias Element = BrokerEvent
    public typealias Failure = SubscriptionError

    // Stored properties in this order (a class's layout follows it): words first, then the
    // one-byte ones together — every idle stream carries one subscription.
    /// The channels subscribed to.
    public let channels: [String]
    /// The patterns subscribed to: the events of every channel they match, each event once
    /// however many of the channels and patterns match it.
    public var patterns: [ChannelPattern] { entries?.patterns ?? [] }
    /// The loop the subscription lives on.
    public let eventLoop: EventLoop

    /// Live events not yet taken, bounded by the buffer limit.
    private var buffer = Deque<BrokerEvent>()
    /// The replay still to be delivered and the live events held behind it: only while a
    /// replay is pending, so that an idle subscription carries one pointer for it.
    private var pending: PendingReplay?
    private var waiter: UnsafeContinuation<Result<BrokerEvent?, SubscriptionError>, Never>?
    /// The live buffer's limit (32 bits: stored beside ``firstPosition`` in one word).
    private let bufferLimit: Int32
    /// Its place in the subscriber list of its first channel (-1: not in it), kept by the
    /// broker for O(1) removal (the other entries' in ``entries``); inline, as almost every
    /// subscription has one channel.
    package var firstPosition: Int32 = -1
    private let onEnd: (Subscription, SubscriptionError?) -> Void
    /// Push mode's consumer (see ``attach(_:maxHeldBytes:)``), held until the subscription ends.
    private var sink: (any SubscriptionSink)?
    /// The subscription's place in its application's presence, released when it ends.
    package var presenceLease: PresenceLease?
    /// The patterns and the list positions of the entries after the first: only for a
    /// subscription to several channels or to patterns, so that the usual one-channel
    /// subscription carries one pointer for them.
    package let entries: Entries?
    /// Where the subscription started in its broker's one id order, as an SSE id (`~` and a
    /// number, such as `~1234`): sent back as `Last-Event-ID`, it resumes after the last event
    /// published before the subscription (after its replay, if it has one), so a client that
    /// reconnects before its first event misses nothing. Event streams open with it when no
    /// replay comes first (`openingPosition`). The in-memory broker gives every subscription
    /// one; the Redis broker one once it has a recent position in Redis's id order (a moment
    /// after it connects, even to an empty Redis; not while Redis has been unreachable for a
    /// while); nil from a broker that has no such position.
    public let startPosition: String?
    /// ``dropped``, in 32 bits beside the one-byte fields (every idle stream carries one
    /// subscription: a word less keeps it in a smaller allocation).
    private var droppedCount: UInt32 = 0
    /// Whether the client's `Last-Event-ID` could be honoured.
    public let replayStatus: ReplayStatus
    private let policy: BrokerConfiguration.OverflowPolicy
    private var ended: Result<Void, SubscriptionError>?

    package init(
        channels: [String], patterns: [ChannelPattern] = [], replayStatus: ReplayStatus, eventLoop: EventLoop, bufferLimit: Int,
        policy: BrokerConfiguration.OverflowPolicy, replay: [BrokerEvent], replaySource: (any ReplaySource)? = nil,
        startPosition: String? = nil, onEnd: @escaping (Subscription, SubscriptionError?) -> Void
    ) {
        self.channels = channels
        self.startPosition = startPosition
        self.replayStatus = replayStatus
        self.eventLoop = eventLoop
        self.bufferLimit = Int32(clamping: bufferLimit)
        self.policy = policy
        self.onEnd = onEnd
        let entryCount = channels.count + patterns.count
        entries = entryCount > 1 || !patterns.isEmpty ? Entries(patterns: patterns, otherCount: Swift.max(0, entryCount - 1)) : nil
        // Replay is bounded by the history, not by the live buffer.
        if !replay.isEmpty || replaySource != nil {
            let pending = PendingReplay()
            pending.events.append(contentsOf: replay)
            pending.source = replaySource
            self.pending = pending
        }
    }

    /// A subscription's patterns and its places in the subscriber lists of its entries after the
    /// first (its other channels, then its patterns; -1: not in it).
    package final class Entries {
        let patterns: [ChannelPattern]
        var otherPositions: [Int]

        init(patterns: [ChannelPattern], otherCount: Int) {
            self.patterns = patterns
            otherPositions = Array(repeating: -1, count: otherCount)
        }
    }

    /// A replay in progress.
    private final class PendingReplay {
        /// Replay events ready to be taken, before any live event. They do not count toward
        /// the live buffer limit, or a reconnect with a long replay would be cut off as a slow
        /// consumer.
        var events = Deque<BrokerEvent>()
        /// The rest of the replay, produced on demand (the in-memory broker reads it from its
        /// history as the consumer goes), so a long replay never sits in memory per subscriber.
        var source: (any ReplaySource)?
        /// Push mode: live events wait in `buffer` (not given to the sink, which must send the
        /// replay first), at most `maxHeldBytes` of them.
        var holding = false
        var heldBytes = 0
        var maxHeldBytes = Int.max

        /// No replay event remains.
        var isOver: Bool { events.isEmpty && source == nil }
    }

    /// Whether the subscription still receives events.
    public var isActive: Bool { ended == nil }

    /// Events dropped by the `dropOldest` policy (counted up to 2³² − 1).
    public var dropped: Int { Int(droppedCount) }

    /// Events waiting to be taken (live events and the replay events produced so far).
    public var bufferedCount: Int { (pending?.events.count ?? 0) + buffer.count }

    /// The position an event stream of this subscription opens with: ``startPosition`` unless
    /// a replay comes first (a client that left during the replay must resume from the last
    /// replayed event, not from after all of it).
    package var openingPosition: String? { hasPendingReplay ? nil : startPosition }

    /// Whether replay events remain to be taken before the live ones.
    package var hasPendingReplay: Bool { pending.map { !$0.isOver } ?? false }

    /// Hands an event to the subscription (loop thread). Returns `false` if it ended, possibly
    /// because this event overflowed its buffer under the disconnect policy.
    @discardableResult
    package func deliver(_ event: BrokerEvent) -> Bool {
        guard ended == nil else { return false }
        if let sink, pending?.holding != true {
            sink.receive(event)
            return true
        }
        if let pending, pending.holding {
            pending.heldBytes += event.encodedBytes.count
            guard pending.heldBytes <= pending.maxHeldBytes else {
                end(with: .slowConsumer)
                return false
            }
            buffer.append(event)
            return true
        }
        if let waiter, buffer.isEmpty, !hasPendingReplay {
            self.waiter = nil
            waiter.resume(returning: .success(event))
            return true
        }
        if buffer.count >= Int(bufferLimit) {
            switch policy {
            case .disconnect:
                end(with: .slowConsumer)
                return false
            case .dropOldest:
                buffer.removeFirst()
                if droppedCount < .max { droppedCount += 1 }
            }
        }
        buffer.append(event)
        return true
    }

    /// Takes every event buffered right now, in order, so a consumer that fell behind within
    /// one loop iteration can send them in one write. Loop thread only.
    ///
    /// The whole remaining replay comes first, produced now.
    public func takeBuffered() -> [BrokerEvent] {
        eventLoop.preconditionInEventLoop()
        var events: [BrokerEvent] = []
        while hasPendingReplay {
            events.append(contentsOf: takeReplay(maxBytes: .max))
        }
        guard !buffer.isEmpty else { return events }
        events.append(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: false)
        return events
    }

    /// Takes the next replay events, oldest first: about `maxBytes` of wire bytes (at least one
    /// event while any remain). Empty once the replay is over — or if the history dropped
    /// events before they were replayed: then the subscription ends as a slow consumer (the
    /// client reconnects and is told of the gap). Loop thread only.
    ///
    /// In push mode, the call that finds the replay over hands the live events held meanwhile
    /// to the sink, in order, before it returns.
    package func takeReplay(maxBytes: Int) -> [BrokerEvent] {
        eventLoop.preconditionInEventLoop()
        var events: [BrokerEvent] = []
        var bytes = 0
        while bytes < maxBytes, refillReplay(), let event = pending?.events.popFirst() {
            events.append(event)
            bytes += event.encodedBytes.count
        }
        if events.isEmpty && pending?.holding == true { releaseHeld() }
        return events
    }

    /// Push mode: once the replay is over, hands the live events held meanwhile to the sink, in
    /// order (the next ones go to it directly). Does nothing while replay remains.
    package func releaseHeldEvents() {
        if let pending, pending.holding, pending.isOver { releaseHeld() }
    }

    /// The replay is over: the held live events go to the sink, and the next ones directly.
    private func releaseHeld() {
        pending = nil
        while let sink, let event = buffer.popFirst() { sink.receive(event) }
    }

    /// Makes sure the pending replay holds an event if the replay has more; false once it has
    /// none. A replay over in pull mode (nothing held behind it) is let go of.
    private func refillReplay() -> Bool {
        guard let pending else { return false }
        if !pending.events.isEmpty { return true }
        if let source = pending.source {
            switch source.produce(maxBytes: Self.replayBatchBytes, into: &pending.events) {
            case .more:
                break
            case .finished:
                pending.source = nil
            case .lost:
                end(with: .slowConsumer)
                return false
            }
        }
        if pending.isOver && !pending.holding { self.pending = nil }
        return !pending.events.isEmpty
    }

    /// Wire bytes of replay produced at a time.
    static let replayBatchBytes = 64 * 1024

    /// Ends the subscription and unsubscribes; a waiting consumer gets the end of the
    /// sequence. Safe from any thread; idempotent.
    public func cancel() {
        if eventLoop.inEventLoop {
            end(with: nil)
        } else {
            // Clean-up: not lost to a full cross-thread queue (refused only once the loop stopped,
            // when nothing runs the subscription any more).
            eventLoop.executeBypassingLimit { [self] in self.end(with: nil) }
        }
    }

    /// Ends with `error` (nil: a normal end). Loop thread.
    package func end(with error: SubscriptionError?) {
        guard ended == nil else { return }
        ended = error.map { .failure($0) } ?? .success(())
        buffer.removeAll()
        pending = nil
        if let waiter {
            self.waiter = nil
            waiter.resume(returning: error.map { .failure($0) } ?? .success(nil))
        }
        onEnd(self, error)
        if let presenceLease {
            self.presenceLease = nil
            presenceLease.release(subscriptionChannels: channels)
        }
        if let sink {
            self.sink = nil
            sink.subscriptionEnded(error)
        }
    }

    /// Switches to push mode: from now on every event is handed to `sink` synchronously on the
    /// loop (``SubscriptionSink/receive(_:)``), and ``SubscriptionSink/subscriptionEnded(_:)`` is
    /// called once when the subscription ends, for whatever reason (nil for a cancellation or a
    /// normal end); the subscription holds `sink` until then. The replay is not pushed: the
    /// caller takes it with ``takeReplay(maxBytes:)`` as its client drains, and holds live events
    /// until it is over.
    ///
    /// Why: a connection that only relays a subscription needs no task of its own, which saves
    /// the task and its frames (about 1.3 KB) on every idle stream; and a sink object, not two
    /// closures, saves their two contexts.
    /// `maxHeldBytes`: the most wire bytes of live events held while the replay is pending;
    /// one more ends the subscription as a slow consumer.
    package func attach(_ sink: any SubscriptionSink, maxHeldBytes: Int = .max) {
        eventLoop.preconditionInEventLoop()
        precondition(waiter == nil && self.sink == nil, "a Subscription has a single consumer")
        if let outcome = self.ended {
            if case .failure(let error) = outcome { sink.subscriptionEnded(error) } else { sink.subscriptionEnded(nil) }
            return
        }
        self.sink = sink
        if let pending, !pending.isOver {
            // Live events that arrived before the attach stay held behind the replay.
            pending.holding = true
            pending.maxHeldBytes = maxHeldBytes
            pending.heldBytes = buffer.reduce(0) { $0 + $1.encodedBytes.count }
            if pending.heldBytes > maxHeldBytes { end(with: .slowConsumer) }
        } else {
            releaseHeld()
        }
    }

    /// ``attach(_:maxHeldBytes:)`` with closures for the sink's two methods.
    package func attach(
        sink: @escaping (BrokerEvent) -> Void, ended: @escaping (SubscriptionError?) -> Void, maxHeldBytes: Int = .max
    ) {
        attach(ClosureSink(receive: sink, ended: ended), maxHeldBytes: maxHeldBytes)
    }

    private func popFirst() -> BrokerEvent? {
        if refillReplay(), let event = pending?.events.popFirst() { return event }
        return buffer.popFirst()
    }

    private func nextOnLoop(_ continuation: UnsafeContinuation<Result<BrokerEvent?, SubscriptionError>, Never>) {
        if let event = popFirst() {
            continuation.resume(returning: .success(event))
            return
        }
        switch ended {
        case .some(.success): continuation.resume(returning: .success(nil))
        case .some(.failure(let error)): continuation.resume(returning: .failure(error))
        case .none:
            precondition(waiter == nil, "a Subscription has a single consumer")
            waiter = continuation
        }
    }

    /// The next event; nil once cancelled or ended normally.
    func next() async throws(SubscriptionError) -> BrokerEvent? {
        // Fast path: an event is already buffered and we are on the loop — no suspension.
        if eventLoop.inEventLoop, let event = popFirst() { return event }
        let result = await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Result<BrokerEvent?, SubscriptionError>, Never>) in
                if eventLoop.inEventLoop {
                    nextOnLoop(continuation)
                } else {
                    let queued = eventLoop.execute { [self] in self.nextOnLoop(continuation) }
                    if !queued { continuation.resume(returning: .failure(.brokerClosed)) }
                }
            }
        } onCancel: {
            cancel()
        }
        return try result.get()
    }

    /// Iterates the subscription's events.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let subscription: Subscription

        public mutating func next() async throws(SubscriptionError) -> BrokerEvent? {
            try await subscription.next()
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async throws(SubscriptionError) -> BrokerEvent? {
            try await subscription.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(subscription: self) }
}
