/// What `stat(2)` tells about a file, as ``EventLoop/status(ofFileAt:)`` and
/// ``OpenFile/status()`` report it.
public struct FileStatus: Sendable, Hashable {
    /// What kind of file it is.
    public enum Kind: Sendable, Hashable {
        /// A regular file.
        case regular
        /// A directory.
        case directory
        /// A symbolic link (only when the link itself was examined), a socket, a FIFO or a device.
        case other
    }

    /// The kind of file.
    public var kind: Kind
    /// The size in bytes.
    public var byteCount: Int64
    /// The last modification, in whole seconds since 1970-01-01 UTC.
    public var modificationSecondsSince1970: Int64
    /// The nanoseconds within ``modificationSecondsSince1970``.
    public var modificationNanoseconds: Int64
    /// The device the file lives on.
    public var device: UInt64
    /// The file's inode number on ``device``: together they name one file, whatever its path.
    public var inode: UInt64

    /// Creates a status (for tests; the loop fills it from `stat(2)`).
    public init(
        kind: Kind, byteCount: Int64, modificationSecondsSince1970: Int64, modificationNanoseconds: Int64 = 0, device: UInt64 = 0,
        inode: UInt64 = 0
    ) {
        self.kind = kind
        self.byteCount = byteCount
        self.modificationSecondsSince1970 = modificationSecondsSince1970
        self.modificationNanoseconds = modificationNanoseconds
        self.device = device
        self.inode = inode
    }

    /// Whether `other` is the same file with the same size and modification time: a file that
    /// was replaced, truncated or rewritten in between is not.
    public func isSameVersion(as other: FileStatus) -> Bool {
        device == other.device && inode == other.inode && byteCount == other.byteCount
            && modificationSecondsSince1970 == other.modificationSecondsSince1970
            && modificationNanoseconds == other.modificationNanoseconds
    }
}
