internal import CLibUV

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `CLOCK_MONOTONIC` in nanoseconds: the clock behind libuv's loop time (``EventLoop/nowMilliseconds``
/// reads the same clock, cached per loop iteration), the same on every thread of the process.
/// A vDSO call, no syscall: cheap enough for once per write on the event-stream paths.
package enum MonotonicClock {
    /// Now, in nanoseconds since an arbitrary start (boot).
    @inline(__always)
    package static func nanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }
}
