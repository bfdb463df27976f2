import CHiredis
import CRedisLibUV
import DequeModule
import RillCore

/// One hiredis async connection driven by an ``EventLoop`` (through CRedisLibUV's fixed libuv
/// adapter): connect with a deadline, a handshake, pipelined argv commands, pub/sub pushes,
/// and a reply deadline, since hiredis 0.14 has no timeouts of its own. Loop-confined.
///
/// Lifetimes, as hiredis defines them:
/// - `ac->data` is a retained ``ContextOwner``, released by whichever terminal callback comes:
///   the connect callback with an error (hiredis then frees the context and calls no disconnect
///   callback), or the disconnect callback. A context freed before it connected gets neither,
///   so ``teardown(reason:)`` releases the owner itself.
/// - Each command's `privdata` is a retained ``ReplyHandler``, released by its one call: the
///   reply, or nil when the context goes away first.
/// - Pub/sub callbacks take no `privdata` (hiredis calls them once per message, then once with
///   nil); they find the connection through `ac->data`.
/// - Replies are copied into ``RedisValue`` inside the callback; hiredis frees them after it.
///
/// It never reconnects by itself: it reports ``onDown`` once per failed attempt or lost
/// connection, and its owner decides when to call ``connect()`` again.
final class RedisConnection {
    enum State: Equatable { case idle, connecting, handshaking, ready, closed }

    let eventLoop: EventLoop
    let host: String
    let port: Int
    let connectTimeout: Duration
    let replyTimeout: Duration
    /// Commands sent as soon as TCP connects (AUTH, SELECT, SCRIPT LOAD, …); an error reply to
    /// any of them fails the attempt.
    var handshake: [[[UInt8]]] = []

    /// The handshake succeeded; its replies, in order.
    var onReady: ([RedisValue]) -> Void = { _ in }
    /// An attempt failed or a ready connection was lost (never called after ``close()``).
    var onDown: (String) -> Void = { _ in }
    /// A pub/sub push: a message, or a subscribe/unsubscribe confirmation.
    var onPush: (RedisValue) -> Void = { _ in }

    private(set) var state: State = .idle
    private var context: UnsafeMutablePointer<redisAsyncContext>?
    private var attempt = 0
    private var connectTimer: ScheduledTimer?
    /// Loop milliseconds at which each outstanding reply was asked for (oldest first).
    private var sentAt = Deque<UInt64>()
    private var watchdog: ScheduledTimer?
    /// Replies received on this connection so far: the watchdog's measure of progress.
    private var repliesReceived = 0
    /// Loop milliseconds of the last reply (or, once, of bytes the watchdog itself got written).
    private var lastProgressMilliseconds: UInt64 = 0
    /// The watchdog gave bytes it wrote itself time for their reply since the last reply.
    private var usedWriteGrace = false
    private let replyTimeoutMilliseconds: UInt64

    init(eventLoop: EventLoop, host: String, port: Int, connectTimeout: Duration, replyTimeout: Duration) {
        self.eventLoop = eventLoop
        self.host = host
        self.port = port
        self.connectTimeout = connectTimeout
        self.replyTimeout = replyTimeout
        replyTimeoutMilliseconds = max(1, replyTimeout.wholeMilliseconds)
    }

    var isReady: Bool { state == .ready }

    // MARK: Connecting

    /// Starts one connection attempt; ends in ``onReady`` or ``onDown``, never synchronously.
    ///
    /// A host name is resolved first, off the loop (``EventLoop/resolve(host:port:_:)``), and
    /// hiredis gets a numeric address: its own lookup would block the loop. With several
    /// addresses, successive attempts go round them. ``connectTimeout`` covers the lookup too.
    func connect() {
        eventLoop.preconditionInEventLoop()
        precondition(state == .idle, "connect() while \(state)")
        attempt += 1
        state = .connecting
        let current = attempt
        connectTimer = eventLoop.schedule(after: connectTimeout) { [weak self] in
            guard let self, self.attempt == current, self.state == .connecting || self.state == .handshaking else { return }
            if self.context == nil {
                self.lost("no answer within \(self.connectTimeout)")  // still resolving
            } else {
                self.teardown(reason: "no answer within \(self.connectTimeout)")
            }
        }
        eventLoop.resolve(host: host, port: port) { [weak self] result in
            guard let self, self.attempt == current, self.state == .connecting, self.context == nil else { return }
            switch result {
            case .success(let addresses):
                self.open(addresses[(current - 1) % addresses.count].host)
            case .failure(let error):
                self.failSoon("\(error)")
            }
        }
    }

    /// Connects hiredis to a numeric address.
    private func open(_ address: String) {
        guard let context = redisAsyncConnect(address, Int32(clamping: port)) else {
            failSoon("out of memory")
            return
        }
        if context.pointee.err != 0 {
            let reason = Self.errorText(UnsafePointer(context))
            redisAsyncFree(context)
            failSoon(reason)
            return
        }
        guard rill_redis_libuv_attach(context, eventLoop.rawLoopPointer) == REDIS_OK else {
            redisAsyncFree(context)
            failSoon("cannot watch the socket on the event loop")
            return
        }
        context.pointee.data = Unmanaged.passRetained(ContextOwner(self, attempt)).toOpaque()
        // After attaching: setting the connect callback arms the write watcher.
        redisAsyncSetConnectCallback(context, connectCallback)
        redisAsyncSetDisconnectCallback(context, disconnectCallback)
        _ = redisEnableKeepAlive(&context.pointee.c)
        self.context = context
    }

    /// Reports a failure that happened inside ``connect()`` on the next loop turn, so that the
    /// owner never sees a callback from inside its own call.
    private func failSoon(_ reason: String) {
        let current = attempt
        eventLoop.schedule(after: .zero) { [weak self] in
            guard let self, self.attempt == current, self.state == .connecting, self.context == nil else { return }
            self.lost(reason)
        }
    }

    fileprivate func didConnect(attempt: Int) {
        guard attempt == self.attempt, context != nil, state == .connecting else { return }
        state = .handshaking
        let commands = handshake
        guard !commands.isEmpty else {
            becomeReady([])
            return
        }
        var replies: [RedisValue] = []
        for command in commands {
            let sent = send(command) { [weak self] reply in
                guard let self, attempt == self.attempt, self.state == .handshaking else { return }
                guard let reply else { return }  // the disconnect callback reports it
                if let message = reply.errorMessage {
                    // "AUTH", "SELECT 3", "CLIENT SETNAME", "SCRIPT LOAD" (never a password).
                    let words = command.first == Array("AUTH".utf8) ? command.prefix(1) : command.prefix(2)
                    let name = words.map { String(decoding: $0.prefix(32), as: UTF8.self) }.joined(separator: " ")
                    self.teardown(reason: "\(name) failed: \(message)")
                    return
                }
                replies.append(reply)
                if replies.count == commands.count { self.becomeReady(replies) }
            }
            guard sent else {
                teardown(reason: "cannot send the handshake")
                return
            }
        }
    }

    private func becomeReady(_ replies: [RedisValue]) {
        state = .ready
        connectTimer?.cancel()
        connectTimer = nil
        onReady(replies)
    }

    fileprivate func didFailToConnect(attempt: Int, reason: String) {
        // hiredis frees the context right after this callback.
        guard attempt == self.attempt, context != nil else { return }
        context = nil
        lost(reason)
    }

    fileprivate func didDisconnect(attempt: Int, reason: String?) {
        // hiredis frees the context right after this callback; a teardown of ours has already
        // cleared `context` and reports by itself.
        guard attempt == self.attempt, context != nil else { return }
        context = nil
        lost(reason ?? "the connection was closed")
    }

    private func lost(_ reason: String) {
        state = .idle
        connectTimer?.cancel()
        connectTimer = nil
        watchdog?.cancel()
        watchdog = nil
        sentAt.removeAll()
        onDown(reason)
    }

    /// Frees the context now. With a reason the connection reports ``onDown`` (a reset, after a
    /// timeout or a failed handshake); without one it is closed for good and reports nothing.
    ///
    /// Pending reply handlers are called with nil: synchronously here, or right after the
    /// current hiredis callback when called from inside one (hiredis defers the free).
    private func teardown(reason: String?) {
        guard let context else {
            if reason == nil { state = .closed }
            return
        }
        self.context = nil
        let connected = context.pointee.c.flags & REDIS_CONNECTED != 0
        let owner = context.pointee.data
        state = reason == nil ? .closed : .idle
        redisAsyncFree(context)
        // A context that never connected gets no disconnect callback to release its owner.
        if !connected, let owner { Unmanaged<ContextOwner>.fromOpaque(owner).release() }
        if let reason {
            lost(reason)
        } else {
            connectTimer?.cancel()
            watchdog?.cancel()
            sentAt.removeAll()
        }
    }

    /// Closes the connection for good; pending commands get nil replies.
    func close() {
        eventLoop.preconditionInEventLoop()
        teardown(reason: nil)
        state = .closed
    }

    /// Resets a connection that misbehaves (reported through ``onDown``).
    func reset(reason: String) {
        teardown(reason: reason)
    }

    // MARK: Commands

    /// Sends a command; `handler` gets the reply, or nil if the connection goes away first.
    /// Returns false (and never calls `handler`) when the connection cannot take commands.
    @discardableResult
    func send(_ arguments: [[UInt8]], _ handler: @escaping (RedisValue?) -> Void) -> Bool {
        guard let context, state == .ready || state == .handshaking else { return false }
        let current = attempt
        let box = Unmanaged.passRetained(
            ReplyHandler { [weak self] reply in
                if let self, self.attempt == current {
                    _ = self.sentAt.popFirst()
                    self.repliesReceived &+= 1
                    self.lastProgressMilliseconds = self.eventLoop.nowMilliseconds
                    self.usedWriteGrace = false
                }
                handler(reply)
            })
        guard Self.submit(context, arguments, replyCallback, box.toOpaque()) else {
            box.release()
            return false
        }
        sentAt.append(eventLoop.nowMilliseconds)
        armWatchdog()
        return true
    }

    /// `SUBSCRIBE`s; confirmations and messages arrive through ``onPush``.
    @discardableResult
    func subscribe(_ channels: [[UInt8]]) -> Bool {
        guard let context, state == .ready, !channels.isEmpty else { return false }
        return Self.submit(context, [Array("SUBSCRIBE".utf8)] + channels, pushCallback, nil)
    }

    /// `UNSUBSCRIBE`s (hiredis registers no callback: the confirmations reach ``onPush``).
    @discardableResult
    func unsubscribe(_ channels: [[UInt8]]) -> Bool {
        guard let context, state == .ready, !channels.isEmpty else { return false }
        return Self.submit(context, [Array("UNSUBSCRIBE".utf8)] + channels, pushCallback, nil)
    }

    /// `PSUBSCRIBE`s glob patterns; confirmations and messages arrive through ``onPush``.
    @discardableResult
    func psubscribe(_ patterns: [[UInt8]]) -> Bool {
        guard let context, state == .ready, !patterns.isEmpty else { return false }
        return Self.submit(context, [Array("PSUBSCRIBE".utf8)] + patterns, pushCallback, nil)
    }

    /// `PUNSUBSCRIBE`s (confirmations reach ``onPush``).
    @discardableResult
    func punsubscribe(_ patterns: [[UInt8]]) -> Bool {
        guard let context, state == .ready, !patterns.isEmpty else { return false }
        return Self.submit(context, [Array("PUNSUBSCRIBE".utf8)] + patterns, pushCallback, nil)
    }

    fileprivate func push(_ value: RedisValue, attempt: Int) {
        guard attempt == self.attempt, context != nil, state == .ready else { return }
        onPush(value)
    }

    /// `redisAsyncCommandArgv` with every argument in one buffer; hiredis copies them into its
    /// output buffer before returning.
    private static func submit(
        _ context: UnsafeMutablePointer<redisAsyncContext>, _ arguments: [[UInt8]], _ callback: CallbackFunction,
        _ privdata: UnsafeMutableRawPointer?
    ) -> Bool {
        var flat: [UInt8] = []
        flat.reserveCapacity(arguments.reduce(1) { $0 + $1.count })
        for argument in arguments { flat.append(contentsOf: argument) }
        flat.append(0)  // never empty, so the base address exists
        let lengths = arguments.map(\.count)
        return flat.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!)
            var offset = 0
            var pointers: [UnsafePointer<CChar>?] = []
            pointers.reserveCapacity(lengths.count)
            for length in lengths {
                pointers.append((base + offset).assumingMemoryBound(to: CChar.self))
                offset += length
            }
            return pointers.withUnsafeMutableBufferPointer { argv in
                lengths.withUnsafeBufferPointer { argvlen in
                    redisAsyncCommandArgv(context, callback, privdata, Int32(lengths.count), argv.baseAddress, argvlen.baseAddress)
                        == REDIS_OK
                }
            }
        }
    }

    // MARK: Reply deadline

    /// When the connection counts as lost: ``replyTimeout`` after the oldest command still
    /// waiting was sent, or after the last progress if that came later (a long pipeline whose
    /// replies keep coming is not lost because its oldest command was sent long ago).
    private var deadlineMilliseconds: UInt64? {
        sentAt.first.map { max($0, lastProgressMilliseconds) + replyTimeoutMilliseconds }
    }

    private var isOverdue: Bool { deadlineMilliseconds.map { eventLoop.nowMilliseconds >= $0 } ?? false }

    private func armWatchdog() {
        guard watchdog?.isPending != true, let deadline = deadlineMilliseconds else { return }
        let now = eventLoop.nowMilliseconds
        watchdog = eventLoop.schedule(after: .milliseconds(Int64(deadline > now ? deadline - now : 0))) { [weak self] in
            guard let self else { return }
            self.watchdog = nil
            guard self.isOverdue else { return self.armWatchdog() }
            // Timers run before the loop writes and reads its sockets: after a turn that kept
            // this loop busy past the deadline, the command may still be unsent or its reply
            // unread. Do that I/O now (non-blocking); a connection that answers is slow, not
            // lost, and one that only took the bytes gets the grace below once.
            let (current, received) = (self.attempt, self.repliesReceived)
            var wrote = false
            if let context = self.context, case let pending = rill_redis_pending_output_bytes(context), pending > 0 {
                redisAsyncHandleWrite(context)
                guard self.attempt == current, let context = self.context else { return }  // lost while writing
                wrote = rill_redis_pending_output_bytes(context) < pending
            }
            if let context = self.context { redisAsyncHandleRead(context) }
            guard self.attempt == current, self.context != nil else { return }  // lost while reading
            let now = self.eventLoop.nowMilliseconds
            if self.repliesReceived != received {
                self.lastProgressMilliseconds = now
                self.armWatchdog()
            } else if wrote && !self.usedWriteGrace {
                // Bytes the busy loop could not send went out just now: their reply gets half
                // the timeout, once until a reply comes (a Redis that takes bytes but never
                // answers is given up within 1.5 times the timeout, however much is sent).
                self.usedWriteGrace = true
                self.lastProgressMilliseconds = now - min(now, self.replyTimeoutMilliseconds / 2)
                self.armWatchdog()
            } else {
                self.teardown(reason: "no reply within \(self.replyTimeout)")
            }
        }
    }

    // MARK: Errors

    /// hiredis's error text: `ac->errstr` once it was copied there, else the inner context's
    /// (0.14 leaves `ac->err` at 0 when a connect fails).
    fileprivate static func errorText(_ context: UnsafePointer<redisAsyncContext>) -> String {
        if context.pointee.err != 0, let message = context.pointee.errstr { return String(cString: message) }
        var errstr = context.pointee.c.errstr
        let text = withUnsafeBytes(of: &errstr) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
        return text.isEmpty ? "the connection was closed" : text
    }
}

typealias CallbackFunction =
    @convention(c) (
        UnsafeMutablePointer<redisAsyncContext>?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?
    ) -> Void

/// What `ac->data` points to: the connection (weakly) and the attempt the context belongs to.
private final class ContextOwner {
    weak var connection: RedisConnection?
    let attempt: Int

    init(_ connection: RedisConnection, _ attempt: Int) {
        self.connection = connection
        self.attempt = attempt
    }
}

/// One command's reply handler (`privdata`).
private final class ReplyHandler {
    let body: (RedisValue?) -> Void
    init(_ body: @escaping (RedisValue?) -> Void) { self.body = body }
}

private let connectCallback: @convention(c) (UnsafePointer<redisAsyncContext>?, Int32) -> Void = { context, status in
    guard let context, let data = context.pointee.data else { return }
    if status == REDIS_OK {
        let owner = Unmanaged<ContextOwner>.fromOpaque(data).takeUnretainedValue()
        owner.connection?.didConnect(attempt: owner.attempt)
    } else {
        let reason = RedisConnection.errorText(context)
        let owner = Unmanaged<ContextOwner>.fromOpaque(data).takeRetainedValue()
        owner.connection?.didFailToConnect(attempt: owner.attempt, reason: reason)
    }
}

private let disconnectCallback: @convention(c) (UnsafePointer<redisAsyncContext>?, Int32) -> Void = { context, status in
    guard let context, let data = context.pointee.data else { return }
    let reason = status == REDIS_OK ? nil : RedisConnection.errorText(context)
    let owner = Unmanaged<ContextOwner>.fromOpaque(data).takeRetainedValue()
    owner.connection?.didDisconnect(attempt: owner.attempt, reason: reason)
}

private let replyCallback: CallbackFunction = { _, reply, privdata in
    guard let privdata else { return }
    let handler = Unmanaged<ReplyHandler>.fromOpaque(privdata).takeRetainedValue()
    handler.body(reply.map { RedisValue(copying: $0.assumingMemoryBound(to: redisReply.self)) })
}

private let pushCallback: CallbackFunction = { context, reply, _ in
    guard let context, let reply, let data = context.pointee.data else { return }
    let owner = Unmanaged<ContextOwner>.fromOpaque(data).takeUnretainedValue()
    owner.connection?.push(RedisValue(copying: reply.assumingMemoryBound(to: redisReply.self)), attempt: owner.attempt)
}
