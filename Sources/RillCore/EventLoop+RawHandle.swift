internal import CLibUV

extension EventLoop {
    /// The loop's `uv_loop_t *`, untyped, for C adapters inside this package that attach their
    /// own libuv handles to the loop (RillRedis's hiredis adapter).
    ///
    /// - Important: package access only, so no libuv pointer reaches the public API. Use it on
    ///   the loop's thread, and close every handle attached with it before the loop shuts down.
    package var rawLoopPointer: UnsafeMutableRawPointer { UnsafeMutableRawPointer(uvLoop) }
}
