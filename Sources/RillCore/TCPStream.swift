internal import CLibUV

/// One accepted TCP connection. Loop-confined: use it only on its loop's thread.
///
/// Writes go out with `uv_try_write` first; whatever the kernel does not take at once goes into a
/// `uv_write_t` request, which libuv keeps in order: arrays by reference (shared, not copied),
/// borrowed bytes as a copy. ``queuedBytes`` is the backpressure signal.
///
/// - Important: lifetime follows libuv's rules. The stream stays alive until libuv's close
///   callback has run, even if its owner lets go of it; call ``close()`` (or
///   ``closeAfterFlush(lingering:)``) exactly when the connection is done.
public final class TCPStream: Transport, @unchecked Sendable {
    /// The loop the stream belongs to.
    public let loop: EventLoop
    /// The receiver of read, drain and close notifications.
    public var delegate: (any TransportDelegate)?

    // Stored properties in this order (a class's layout follows it): words first, the small
    // ones packed at the end — every open connection carries one of these.
    private let handle: UnsafeMutablePointer<uv_tcp_t>
    private var lingerTimer: ScheduledTimer?
    /// Watches queued writes for progress while any are queued (see ``writeTimeout``); nil
    /// while nothing is queued, so a connection whose writes the kernel takes at once carries
    /// one pointer for it.
    private var writeWatch: WriteProgressWatch?
    /// The queued bytes at which the delegate wants a drain notice; -1: none wanted.
    private var drainThreshold = -1
    /// Writes gathered between ``beginCoalescingWrites()`` and ``endCoalescingWrites()``.
    private var coalescer = WriteCoalescer()
    /// ``writeTimeout`` in milliseconds; 0: none (4 bytes rather than a 17-byte optional
    /// `Duration` in every connection).
    private var writeTimeoutMilliseconds: UInt32 = 0
    /// The first write error's code (0: none) — what ``writeError`` says, in 4 bytes.
    private var writeErrorCode: Int32 = 0
    /// The first write error was the write timeout's.
    private var writeTimedOut = false
    private var reading = false
    private var discardingInput = false
    private var receivedEOF = false
    /// Whether `close` has been called (the handle may still be closing).
    public private(set) var isClosing = false

    /// What the last progress check saw.
    private final class WriteProgressWatch {
        var timer: ScheduledTimer?
        /// A queued write completed since the last check.
        var completedWrite = false
        /// ``queuedBytes`` at the last check.
        var queuedBytes = 0
        /// ``kernelQueuedBytes`` at the last check.
        var kernelQueuedBytes = 0
        /// When a check last saw progress (the loop's clock, ms): the timeout runs from there.
        var progressAtMilliseconds: UInt64 = 0
    }

    /// How long queued writes may make no progress at all (no write completes and neither
    /// libuv's nor the kernel's send queue shrinks) before the stream gives up on the peer: it
    /// closes, with an `ETIMEDOUT` ``writeError``. Bounds how long a peer that stopped reading
    /// holds the connection and its queued bytes. nil (the default) never gives up. Checked
    /// only while bytes are queued in libuv, so a stream whose writes the kernel takes at once
    /// pays nothing.
    public var writeTimeout: Duration? {
        get { writeTimeoutMilliseconds == 0 ? nil : .milliseconds(writeTimeoutMilliseconds) }
        set {
            guard let newValue else {
                writeTimeoutMilliseconds = 0
                return
            }
            writeTimeoutMilliseconds = UInt32(clamping: max(1, newValue.millisecondsRoundingUp))
        }
    }

    /// The first write error, if a write failed (the stream closes itself then).
    public var writeError: UVError? {
        guard writeErrorCode != 0 else { return nil }
        return UVError(writeErrorCode, writeTimedOut ? Self.writeTimeoutOperation : "writing")
    }
    private static let writeTimeoutOperation = "writing (no progress within the write timeout)"

    init(loop: EventLoop, handle: UnsafeMutablePointer<uv_tcp_t>) {
        self.loop = loop
        self.handle = handle
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    private static func from(_ pointer: UnsafeMutableRawPointer?) -> TCPStream {
        Unmanaged<TCPStream>.fromOpaque(pointer!).takeUnretainedValue()
    }

    /// The peer's address, if the socket still knows it.
    public var remoteAddress: SocketAddress? {
        var name = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &name) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getpeername(handle, $0, &length) }
        }
        guard rc == 0 else { return nil }
        return withUnsafePointer(to: &name) { SocketAddress($0) }
    }

    /// Whether `TCP_NODELAY` is set on the socket.
    package var hasNoDelay: Bool {
        var fd: uv_os_fd_t = -1
        guard uv_fileno(rill_tcp_as_handle(handle), &fd) == 0 else { return false }
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &value, &length) == 0 else { return false }
        return value != 0
    }

    /// Bytes in the kernel's send queue, sent or not, that the peer has not acknowledged yet
    /// (`SIOCOUTQ`); 0 if the socket cannot tell.
    private var kernelQueuedBytes: Int { Int(rill_tcp_unacknowledged_bytes(handle)) }

    /// Bytes written that the kernel has not taken yet: handed to libuv, or gathered while
    /// writes coalesce.
    public var queuedBytes: Int { uv_stream_get_write_queue_size(rill_tcp_as_stream(handle)) + coalescer.gatheredByteCount }

    /// Starts delivering received bytes to the delegate.
    public func startReading() {
        guard !reading, !isClosing, !receivedEOF else { return }
        reading = true
        uv_read_start(
            rill_tcp_as_stream(handle),
            { handle, _, buffer in
                let stream = TCPStream.from(handle!.pointee.data)
                let shared = stream.loop.sharedReadBuffer
                buffer!.pointee = uv_buf_t(base: shared.baseAddress!.assumingMemoryBound(to: CChar.self), len: shared.count)
            },
            { handle, count, _ in
                TCPStream.from(handle!.pointee.data).didRead(count: count)
            })
    }

    /// Stops reading: the kernel buffers, then the peer's window fills (backpressure).
    public func stopReading() {
        guard reading else { return }
        reading = false
        uv_read_stop(rill_tcp_as_stream(handle))
    }

    private func didRead(count: Int) {
        if count > 0 {
            if discardingInput { return }
            delegate?.transport(self, didRead: UnsafeRawBufferPointer(rebasing: loop.sharedReadBuffer[0..<count]))
        } else if count < 0 {
            reading = false
            receivedEOF = true
            uv_read_stop(rill_tcp_as_stream(handle))
            if discardingInput {
                close()
                return
            }
            let error = count == Int(UV_EOF.rawValue) ? nil : UVError(Int32(count), "reading")
            delegate?.transport(self, didEndReadingWith: error)
        }
    }

    /// Collects the writes that follow, until ``endCoalescingWrites()``, into one socket write —
    /// say a response head and the first bytes of its body. Closing flushes them first.
    public func beginCoalescingWrites() {
        coalescer.begin()
    }

    /// Ends ``beginCoalescingWrites()``; the outermost end writes what was collected.
    public func endCoalescingWrites() {
        guard let bytes = coalescer.end() else { return }
        write(bytes)
        // A drain notice asked for while these bytes were gathered (they count as queued):
        // when the kernel took them all at once, no write callback will come to give it.
        if drainThreshold >= 0, queuedBytes <= drainThreshold { notifyDrainOnNextIteration() }
    }

    /// Writes `bytes` after everything written before. Never blocks; what the kernel does not
    /// take now is copied and queued. A failed write closes the stream.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        guard !isClosing, !bytes.isEmpty, !coalescer.gather(bytes) else { return }
        send(bytes)
    }

    /// Writes `bytes` after everything written before. Never blocks; what the kernel does not
    /// take now stays queued in the array itself (kept, not copied: an event shared by many
    /// streams is held once however many of them lag).
    public func write(_ bytes: [UInt8]) {
        guard !isClosing, !bytes.isEmpty, !coalescer.gather(bytes) else { return }
        let written = bytes.withUnsafeBytes { tryWrite($0) }
        if written == bytes.count { return }
        if written < 0 && written != Int(UV_EAGAIN.rawValue) {
            fail(Int32(written))
            return
        }
        queueWrite(keeping: [bytes], from: 0, offset: max(0, written))
    }

    /// Writes `chunks`, one after the other, after everything written before: one `writev`,
    /// and what the kernel does not take now stays queued in the arrays themselves (see
    /// ``write(_:)-([UInt8])``).
    public func write(contentsOf chunks: [[UInt8]]) {
        guard !isClosing else { return }
        if coalescer.isGathering {
            for chunk in chunks { _ = coalescer.gather(chunk) }
            return
        }
        if chunks.count == 1 { return write(chunks[0]) }
        var total = 0
        let written = withUnsafeTemporaryAllocation(of: uv_buf_t.self, capacity: chunks.count) { buffers -> Int in
            var used = 0
            for chunk in chunks where !chunk.isEmpty {
                // The arrays outlive the call: `chunks` holds them.
                buffers[used] = chunk.withUnsafeBytes { Self.buffer(of: $0) }
                total += chunk.count
                used += 1
            }
            guard used > 0 else { return 0 }
            return Int(uv_try_write(rill_tcp_as_stream(handle), buffers.baseAddress, UInt32(used)))
        }
        if written == total { return }
        if written < 0 && written != Int(UV_EAGAIN.rawValue) {
            fail(Int32(written))
            return
        }
        // The first chunk the kernel did not take whole, and how much of it it took.
        var first = 0
        var offset = max(0, written)
        while offset >= chunks[first].count {
            offset -= chunks[first].count
            first += 1
        }
        queueWrite(keeping: chunks, from: first, offset: offset)
    }

    /// `bytes` as a libuv buffer (libuv does not write through it).
    private static func buffer(of bytes: UnsafeRawBufferPointer) -> uv_buf_t {
        uv_buf_t(base: UnsafeMutableRawPointer(mutating: bytes.baseAddress!).assumingMemoryBound(to: CChar.self), len: bytes.count)
    }

    /// `uv_try_write`: the bytes the kernel took, or a (negative) libuv error.
    private func tryWrite(_ bytes: UnsafeRawBufferPointer) -> Int {
        var buffer = Self.buffer(of: bytes)
        return Int(uv_try_write(rill_tcp_as_stream(handle), &buffer, 1))
    }

    /// Writes `bytes` now: what the kernel takes at once, the rest copied and queued.
    private func send(_ bytes: UnsafeRawBufferPointer) {
        let written = tryWrite(bytes)
        if written == bytes.count { return }
        if written < 0 && written != Int(UV_EAGAIN.rawValue) {
            fail(Int32(written))
            return
        }
        queueCopy(of: UnsafeRawBufferPointer(rebasing: bytes[max(0, written)...]))
    }

    /// The size of a queued write's `uv_write_t`, rounded up so that what follows it in the
    /// same allocation is aligned.
    private static var requestByteCount: Int { (MemoryLayout<uv_write_t>.size + 15) & ~15 }

    /// One allocation holds the request and a copy of the unsent bytes; freed in the write
    /// callback.
    private func queueCopy(of bytes: UnsafeRawBufferPointer) {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: Self.requestByteCount + bytes.count, alignment: 16)
        let request = memory.bindMemory(to: uv_write_t.self, capacity: 1)
        let payload = memory + Self.requestByteCount
        payload.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        var buffer = uv_buf_t(base: payload.assumingMemoryBound(to: CChar.self), len: bytes.count)
        let rc = uv_write(request, rill_tcp_as_stream(handle), &buffer, 1) { request, status in
            let stream = TCPStream.from(request!.pointee.handle.pointee.data)
            UnsafeMutableRawPointer(request!).deallocate()
            stream.didWrite(status: status)
        }
        guard rc >= 0 else {
            memory.deallocate()
            return fail(rc)
        }
        didQueueWrite()
    }

    /// Queues `chunks` from byte `offset` of chunk `first` on. The request's allocation keeps
    /// the arrays (so their storage stays where libuv's buffers point) until the write callback.
    private func queueWrite(keeping chunks: [[UInt8]], from first: Int, offset: Int) {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: Self.requestByteCount + MemoryLayout<[[UInt8]]>.stride, alignment: 16)
        let request = memory.bindMemory(to: uv_write_t.self, capacity: 1)
        let kept = (memory + Self.requestByteCount).bindMemory(to: [[UInt8]].self, capacity: 1)
        kept.initialize(to: chunks)
        let rc = withUnsafeTemporaryAllocation(of: uv_buf_t.self, capacity: chunks.count - first) { buffers -> Int32 in
            var used = 0
            for index in first..<chunks.count where !chunks[index].isEmpty {
                // An array's storage does not move while it is alive and unchanged, and `kept`
                // holds each one unchanged until the callback.
                let skipped = index == first ? offset : 0
                buffers[used] = kept.pointee[index].withUnsafeBytes { Self.buffer(of: UnsafeRawBufferPointer(rebasing: $0[skipped...])) }
                used += 1
            }
            return uv_write(request, rill_tcp_as_stream(handle), buffers.baseAddress, UInt32(used)) { request, status in
                let stream = TCPStream.from(request!.pointee.handle.pointee.data)
                let memory = UnsafeMutableRawPointer(request!)
                (memory + TCPStream.requestByteCount).assumingMemoryBound(to: [[UInt8]].self).deinitialize(count: 1)
                memory.deallocate()
                stream.didWrite(status: status)
            }
        }
        guard rc >= 0 else {
            kept.deinitialize(count: 1)
            memory.deallocate()
            return fail(rc)
        }
        didQueueWrite()
    }

    /// A write was queued: the write timeout starts watching, if it was not already.
    private func didQueueWrite() {
        if writeWatch == nil, writeTimeoutMilliseconds > 0 {
            let watch = WriteProgressWatch()
            writeWatch = watch
            snapshotWriteProgress(into: watch, progressed: true)
        }
    }

    /// Notes where the queues stand (and, after progress, when) and checks again after a
    /// quarter of the write timeout: a stall is caught within 1.25 times the timeout, not two
    /// (checking once per timeout, progress early in one period hid a stall for most of the next).
    private func snapshotWriteProgress(into watch: WriteProgressWatch, progressed: Bool) {
        watch.completedWrite = false
        watch.queuedBytes = queuedBytes
        watch.kernelQueuedBytes = kernelQueuedBytes
        if progressed { watch.progressAtMilliseconds = loop.nowMilliseconds }
        watch.timer = loop.schedule(after: .milliseconds(max(1, writeTimeoutMilliseconds / 4))) { [unowned self] in
            self.checkWriteProgress()
        }
    }

    /// A quarter of the write timeout passed with bytes queued: the peer stalled unless a write
    /// completed or a queue shrank meanwhile; past the whole timeout without progress it gives up.
    private func checkWriteProgress() {
        guard let watch = writeWatch else { return }
        watch.timer = nil
        guard !isClosing, queuedBytes > 0 else {
            writeWatch = nil
            return
        }
        // Progress: a write completed, libuv's queue shrank, or the kernel's send queue did. The
        // last one matters: the kernel wakes libuv only once a third of a large send buffer is
        // free, so a peer that reads steadily can drain megabytes before libuv sees a change.
        let progressed = watch.completedWrite || queuedBytes < watch.queuedBytes || kernelQueuedBytes < watch.kernelQueuedBytes
        if !progressed && loop.nowMilliseconds - watch.progressAtMilliseconds >= UInt64(writeTimeoutMilliseconds) {
            writeWatch = nil
            fail(Int32(UV_ETIMEDOUT.rawValue), timedOut: true)
            return
        }
        snapshotWriteProgress(into: watch, progressed: progressed)
    }

    private func didWrite(status: Int32) {
        if status < 0 {
            if status != Int32(UV_ECANCELED.rawValue) { fail(status) }
            return
        }
        writeWatch?.completedWrite = true
        if drainThreshold >= 0, queuedBytes <= drainThreshold {
            drainThreshold = -1
            delegate?.transportDidDrain(self)
        }
    }

    /// Asks for one ``TransportDelegate/transportDidDrain(_:)`` call once queued bytes are at most
    /// `threshold`. If they already are, the call comes on the next loop iteration.
    public func notifyWhenQueuedBytes(atMost threshold: Int) {
        guard !isClosing else { return }
        if queuedBytes <= threshold {
            notifyDrainOnNextIteration()
            return
        }
        drainThreshold = max(0, threshold)
    }

    /// The drain notice, on the loop's next iteration (never inside the caller's write).
    private func notifyDrainOnNextIteration() {
        drainThreshold = -1
        loop.execute(
            UncheckedBox { [self] in
                if !self.isClosing { self.delegate?.transportDidDrain(self) }
            }.call)
    }

    /// A write failed with libuv's `code`: the first failure is kept, and the stream closes.
    private func fail(_ code: Int32, timedOut: Bool = false) {
        if writeErrorCode == 0 {
            writeErrorCode = code
            writeTimedOut = timedOut
        }
        // The peer is gone or stopped reading: nothing the kernel still holds will be wanted.
        abort()
    }

    /// Closes the connection now; queued writes are cancelled. What the kernel already took is
    /// still delivered (see ``abort()``).
    public func close() {
        guard prepareClose() else { return }
        uv_close(rill_tcp_as_handle(handle), Self.didClose)
    }

    /// Closes the connection now and resets it (`SO_LINGER` 0, an RST): neither libuv's queue
    /// nor the kernel's send buffer is delivered, and the kernel frees that buffer at once (up
    /// to `net.ipv4.tcp_wmem`'s maximum, 4 MiB by default, per connection, which a plain close
    /// would keep sending to a peer that stopped reading).
    public func abort() {
        guard prepareClose() else { return }
        // Fails only while a shutdown is in progress (closeAfterFlush): then a plain close.
        if uv_tcp_close_reset(handle, Self.didClose) != 0 { uv_close(rill_tcp_as_handle(handle), Self.didClose) }
    }

    /// Marks the stream closing and stops its timers; false if it already was.
    private func prepareClose() -> Bool {
        guard !isClosing else { return false }
        isClosing = true
        lingerTimer?.cancel()
        lingerTimer = nil
        writeWatch?.timer?.cancel()
        writeWatch = nil
        return true
    }

    private static let didClose: uv_close_cb = { handle in
        let pointer = UnsafeMutableRawPointer(handle!).assumingMemoryBound(to: uv_tcp_t.self)
        let stream = Unmanaged<TCPStream>.fromOpaque(pointer.pointee.data!).takeRetainedValue()
        pointer.deallocate()
        let delegate = stream.delegate
        stream.delegate = nil
        delegate?.transportDidClose(stream)
    }

    /// Sends what is queued, half-closes the write side, then reads and discards the peer's
    /// remaining input until it closes or `lingering` passes, and closes.
    ///
    /// Why linger: closing a socket that still has unread input makes the kernel send a reset,
    /// which can destroy a response (a 400 or 413) before the client has read it.
    public func closeAfterFlush(lingering: Duration = .seconds(2)) {
        guard !isClosing, !discardingInput else { return }
        if let bytes = coalescer.takeGathered() { bytes.withUnsafeBytes { send($0) } }
        // The peer already closed its side and nothing waits to be sent: no unread input can
        // cause a reset, so close now (no shutdown call, no linger).
        if receivedEOF && queuedBytes == 0 {
            close()
            return
        }
        discardingInput = true
        let request = UnsafeMutablePointer<uv_shutdown_t>.allocate(capacity: 1)
        let rc = uv_shutdown(request, rill_tcp_as_stream(handle)) { request, _ in
            let stream = TCPStream.from(request!.pointee.handle.pointee.data)
            request!.deallocate()
            stream.lingerAfterShutdown()
        }
        if rc < 0 {
            request.deallocate()
            close()
            return
        }
        lingerTimer = loop.schedule(after: lingering) { [self] in self.close() }
    }

    private func lingerAfterShutdown() {
        guard !isClosing else { return }
        if receivedEOF {
            close()
        } else if !reading {
            startReading()
        }
    }
}
