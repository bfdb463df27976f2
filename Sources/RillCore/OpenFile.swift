internal import CLibUV

/// A file opened for reading with ``EventLoop/openFile(atPath:)``: every read runs on libuv's
/// thread pool (`uv_fs_read`) and resumes the caller on the loop, so a slow disk never blocks
/// the loop.
///
/// ```swift
/// let file = try await loop.openFile(atPath: "/srv/www/big.bin")
/// let first = try await file.read(byteCount: 65_536, at: 0)   // fewer bytes at the end
/// await file.close()
/// ```
///
/// - Important: use it on its loop's thread (a task on the loop's executor). Call ``close()``
///   when done: a file still open when the last reference goes is closed then with a blocking
///   `close(2)` on the releasing thread (cheap for a regular file, but a leak of discipline).
public final class OpenFile: @unchecked Sendable {
    /// The loop whose thread pool reads the file.
    public let eventLoop: EventLoop
    /// The path it was opened with.
    public let path: String
    private var descriptor: Int32?

    init(eventLoop: EventLoop, path: String, descriptor: Int32) {
        self.eventLoop = eventLoop
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        guard let descriptor else { return }
        var request = uv_fs_t()
        _ = uv_fs_close(nil, &request, descriptor, nil)
        uv_fs_req_cleanup(&request)
    }

    /// Whether ``close()`` was called.
    public var isClosed: Bool { descriptor == nil }

    /// The file's status (`fstat(2)`): the file this handle reads, even if its path was
    /// renamed or replaced since it was opened.
    ///
    /// - Throws: ``UVError`` (`EBADF` after ``close()``).
    public func status() async throws(UVError) -> FileStatus {
        let descriptor = try openDescriptor("stat")
        return try await FileSystemRequest.run(on: eventLoop, "stat \(path)") { loop, request, callback in
            uv_fs_fstat(loop, request, descriptor, callback)
        } result: { request in
            FileStatus(request.pointee.statbuf)
        }
    }

    /// Reads up to `byteCount` bytes starting at byte `offset`; fewer only at the end of the file
    /// (none at or past it).
    ///
    /// - Parameters:
    ///   - byteCount: the most bytes to read (at least 1): also the size of the buffer this
    ///     read allocates.
    ///   - offset: where to start, in bytes from the start of the file.
    /// - Throws: ``UVError``.
    public func read(byteCount: Int, at offset: Int64) async throws(UVError) -> [UInt8] {
        precondition(byteCount >= 1 && byteCount <= Int(UInt32.max), "byteCount must be in 1...UInt32.max")
        precondition(offset >= 0, "offset must not be negative")
        let descriptor = try openDescriptor("read")
        // The thread pool writes into this buffer until the callback: it lives until then.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: byteCount, alignment: 16)
        defer { buffer.deallocate() }
        return try await FileSystemRequest.run(on: eventLoop, "read \(path)") { loop, request, callback in
            var uvBuffer = uv_buf_init(buffer.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(byteCount))
            // libuv copies the uv_buf_t array into the request: a local is enough.
            return uv_fs_read(loop, request, descriptor, &uvBuffer, 1, offset, callback)
        } result: { request in
            [UInt8](UnsafeRawBufferPointer(rebasing: buffer[..<Int(request.pointee.result)]))
        }
    }

    /// Closes the file (`uv_fs_close` on the thread pool). Further reads throw `EBADF`; a second
    /// call does nothing.
    public func close() async {
        guard let descriptor else { return }
        self.descriptor = nil
        _ = try? await FileSystemRequest.run(on: eventLoop, "close \(path)") { loop, request, callback in
            uv_fs_close(loop, request, descriptor, callback)
        } result: { _ in
            ()
        }
    }

    private func openDescriptor(_ operation: String) throws(UVError) -> Int32 {
        guard let descriptor else { throw UVError(Int32(UV_EBADF.rawValue), "\(operation) \(path) (the file is closed)") }
        return descriptor
    }
}
