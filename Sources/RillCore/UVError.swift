internal import CLibUV

/// An error reported by libuv, carrying its negative error code and libuv's name for it.
public struct UVError: Error, Sendable, Hashable, CustomStringConvertible {
    /// libuv's negative error code (for example `UV_EADDRINUSE`).
    public let code: Int32
    /// What was being attempted, for the message.
    public let operation: String

    package init(_ code: Int32, _ operation: String) {
        self.code = code
        self.operation = operation
    }

    /// libuv's symbolic name of the error, such as `EADDRINUSE`.
    public var name: String { String(cString: uv_err_name(code)) }

    public var description: String {
        "\(operation) failed: \(name) (\(String(cString: uv_strerror(code))))"
    }

    /// Whether the error means the address is already taken by another socket.
    public var isAddressInUse: Bool { code == Int32(UV_EADDRINUSE.rawValue) }

    /// Whether the operation gave up waiting (for a write: the peer stopped reading).
    public var isTimeout: Bool { code == Int32(UV_ETIMEDOUT.rawValue) }

    /// Throws a `UVError` when `code` is negative.
    static func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(UVError) {
        if code < 0 { throw UVError(code, operation()) }
    }
}
