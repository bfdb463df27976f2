internal import CLibUV

#if canImport(Glibc)
    import Glibc
#endif

/// File-system calls that never block the loop: each is a libuv `uv_fs_*` request, run on
/// libuv's thread pool (`UV_THREADPOOL_SIZE` threads, 4 by default, shared with name
/// resolution), whose callback resumes the caller on the loop's thread. Callers on another
/// executor hop to the loop first.
extension EventLoop {
    /// The canonical absolute path of `path`: symbolic links, `.` and `..` resolved
    /// (`realpath(3)`, through `uv_fs_realpath`).
    ///
    /// - Throws: ``UVError`` (`ENOENT` when something on the way does not exist, `ELOOP`,
    ///   `ENAMETOOLONG`, `EACCES`).
    public func realPath(of path: String) async throws(UVError) -> String {
        try await FileSystemRequest.run(on: self, "realpath \(path)") { loop, request, callback in
            uv_fs_realpath(loop, request, path, callback)
        } result: { request in
            String(cString: request.pointee.ptr.assumingMemoryBound(to: CChar.self))
        }
    }

    /// The status of the file at `path` (`stat(2)`, following symbolic links).
    ///
    /// - Throws: ``UVError`` (`ENOENT`, `ENOTDIR`, `EACCES`…).
    public func status(ofFileAt path: String) async throws(UVError) -> FileStatus {
        try await FileSystemRequest.run(on: self, "stat \(path)") { loop, request, callback in
            uv_fs_stat(loop, request, path, callback)
        } result: { request in
            FileStatus(request.pointee.statbuf)
        }
    }

    /// Opens the file at `path` for reading.
    ///
    /// The file is opened with `O_NONBLOCK`, so that opening a FIFO put where a regular file was
    /// expected does not hold a thread-pool thread until a writer appears, and with
    /// `O_NOFOLLOW` when `followingSymlinks` is false (a symbolic link as the last component
    /// then fails with `ELOOP`).
    ///
    /// - Throws: ``UVError`` (`ENOENT`, `EACCES`, `ELOOP`, `EMFILE`…).
    public func openFile(atPath path: String, followingSymlinks: Bool = true) async throws(UVError) -> OpenFile {
        let flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | (followingSymlinks ? 0 : O_NOFOLLOW)
        let descriptor = try await FileSystemRequest.run(on: self, "open \(path)") { loop, request, callback in
            uv_fs_open(loop, request, path, flags, 0, callback)
        } result: { request in
            Int32(truncatingIfNeeded: request.pointee.result)
        }
        return OpenFile(eventLoop: self, path: path, descriptor: descriptor)
    }
}

extension FileStatus {
    init(_ stat: uv_stat_t) {
        // POSIX's S_IFMT, S_IFREG and S_IFDIR (Glibc's and libuv's headers both export them).
        let type = stat.st_mode & 0o170_000
        self.init(
            kind: type == 0o100_000 ? .regular : type == 0o040_000 ? .directory : .other,
            byteCount: Int64(bitPattern: stat.st_size),
            modificationSecondsSince1970: Int64(stat.st_mtim.tv_sec),
            modificationNanoseconds: Int64(stat.st_mtim.tv_nsec),
            device: stat.st_dev,
            inode: stat.st_ino)
    }
}

/// One `uv_fs_*` request in flight, from its start on the loop to its one callback. The
/// request's `data` is the retained object; the callback takes it back, reads the result,
/// cleans the request up (`uv_fs_req_cleanup`) and resumes the waiting task.
final class FileSystemRequest {
    typealias Start = (
        UnsafeMutablePointer<uv_loop_t>, UnsafeMutablePointer<uv_fs_t>, @convention(c) (UnsafeMutablePointer<uv_fs_t>?) -> Void
    ) -> Int32

    private let request: UnsafeMutablePointer<uv_fs_t> = .allocate(capacity: 1)
    private let completion: (UnsafeMutablePointer<uv_fs_t>) -> Void

    private init(completion: @escaping (UnsafeMutablePointer<uv_fs_t>) -> Void) {
        self.completion = completion
    }

    /// Starts the request on `loop`'s thread and waits for its callback. A negative
    /// `request.result` becomes a ``UVError`` naming `operation`; otherwise `result` reads the
    /// answer out of the request before it is cleaned up.
    static func run<Value: Sendable>(
        on loop: EventLoop, _ operation: String, start: @escaping Start,
        result: @escaping (UnsafeMutablePointer<uv_fs_t>) -> Value
    ) async throws(UVError) -> Value {
        let outcome = await withUnsafeContinuation { (continuation: UnsafeContinuation<Result<Value, UVError>, Never>) in
            let begin = {
                let fileSystemRequest = FileSystemRequest { request in
                    let status = request.pointee.result
                    continuation.resume(
                        returning: status < 0 ? .failure(UVError(Int32(truncatingIfNeeded: status), operation)) : .success(result(request)))
                }
                fileSystemRequest.start(on: loop, start, operation: operation) { continuation.resume(returning: .failure($0)) }
            }
            if loop.inEventLoop {
                begin()
            } else if !loop.execute(UncheckedBox(begin).call) {
                continuation.resume(returning: .failure(UVError(Int32(UV_ECANCELED.rawValue), "\(operation) (the loop refused the work)")))
            }
        }
        return try outcome.get()
    }

    private func start(on loop: EventLoop, _ start: Start, operation: String, failed: (UVError) -> Void) {
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        let rc = start(loop.uvLoop, request) { request in
            let owner = Unmanaged<FileSystemRequest>.fromOpaque(request!.pointee.data).takeRetainedValue()
            owner.finished()
        }
        guard rc >= 0 else {
            // No callback will come.
            Unmanaged<FileSystemRequest>.fromOpaque(request.pointee.data).release()
            uv_fs_req_cleanup(request)
            request.deallocate()
            failed(UVError(rc, operation))
            return
        }
    }

    private func finished() {
        completion(request)
        uv_fs_req_cleanup(request)
        request.deallocate()
    }
}
