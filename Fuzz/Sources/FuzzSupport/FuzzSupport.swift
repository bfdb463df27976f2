/// What every fuzz target shares: a deterministic reader of the fuzzer's input and a failure
/// that libFuzzer (under AddressSanitizer) records as a crash with the input that caused it.
import CFuzzDriver

#if canImport(Glibc)
    import Glibc
#endif

/// The body of each target's entry point: runs libFuzzer's driver with `callback`.
///
/// A target's `LLVMFuzzerTestOneInput` is what libFuzzer's own `main` calls; but SwiftPM links
/// an executable target's `main` to `<Target>_main` (testable executables), so each target also
/// defines that and comes here.
public func fuzzMain(
    _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, callback)
}

/// Stops the process with a message: libFuzzer saves the input as a `crash-…` file.
public func fuzzFailure(_ message: String, file: StaticString = #file, line: UInt = #line) -> Never {
    var text = "FUZZ INVARIANT VIOLATED (\(file):\(line)): \(message)\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    abort()
}

/// Checks an invariant of the code under test.
@inline(__always)
public func fuzzCheck(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #file, line: UInt = #line
) {
    if !condition() { fuzzFailure(message(), file: file, line: line) }
}

/// Reads control values from the front of the input and hands the rest out as data.
public struct FuzzInput {
    public let bytes: UnsafeBufferPointer<UInt8>
    public private(set) var position = 0

    public init(_ data: UnsafePointer<UInt8>?, _ count: Int) {
        bytes = UnsafeBufferPointer(start: count > 0 ? data : nil, count: count)
    }

    public var remaining: Int { bytes.count - position }

    /// The next control byte, or 0 once the input is exhausted.
    public mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    /// The next `count` bytes (fewer at the end).
    public mutating func take(_ count: Int) -> UnsafeBufferPointer<UInt8> {
        let count = min(max(count, 0), remaining)
        defer { position += count }
        return UnsafeBufferPointer(rebasing: bytes[position..<(position + count)])
    }

    /// Everything not yet read.
    public mutating func rest() -> UnsafeBufferPointer<UInt8> { take(remaining) }
}

/// A small deterministic generator (splitmix64) seeded from the input, for split points and
/// interleavings that must replay exactly from a saved crash input.
public struct SplitMix {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A value in `0..<bound` (bound > 0).
    public mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
