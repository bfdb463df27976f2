import Testing

@testable import Rill

/// The queue of arrays a stream waits to send: reads across array boundaries, partial reads,
/// value semantics, and no copy of what it was given.
@Suite struct ByteChunkQueueTests {
    /// Reads everything, `size` bytes at a time.
    private func readAll(_ queue: inout ByteChunkQueue, size: Int) -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: size)
        while true {
            let count = buffer.withUnsafeMutableBytes { queue.read(into: $0) }
            if count == 0 { break }
            result += buffer[..<count]
        }
        return result
    }

    @Test func `reads cross arrays in order, in pieces of any size, and empty it`() {
        let arrays: [[UInt8]] = (0..<40).map { index in (0..<(index * 13 % 29)).map { UInt8(truncatingIfNeeded: $0 + index * 7) } }
        let expected = Array(arrays.joined())
        for size in [1, 3, 7, 64, 10_000] {
            var queue = ByteChunkQueue()
            for array in arrays { queue.append(array) }
            #expect(queue.byteCount == expected.count)
            #expect(readAll(&queue, size: size) == expected)
            #expect(queue.isEmpty && queue.byteCount == 0)
        }
    }

    @Test func `what is taken is what was appended and not read, the arrays themselves when whole`() {
        var queue = ByteChunkQueue()
        guard case .none = queue.removeAll() else { Issue.record("an empty queue gave something"); return }
        let one: [UInt8] = [1, 2, 3, 4]
        queue.append(one)
        queue.append([])
        guard case .one(let single) = queue.removeAll() else { Issue.record("one array, not one"); return }
        #expect(single.withUnsafeBytes { $0.baseAddress } == one.withUnsafeBytes { $0.baseAddress }, "the array, not a copy")
        #expect(queue.isEmpty)
        let two: [UInt8] = [5, 6, 7]
        queue.append(one)
        queue.append(two)
        guard case .many(let both) = queue.removeAll() else { Issue.record("two arrays, not a list"); return }
        #expect(both == [one, two])
        #expect(both[1].withUnsafeBytes { $0.baseAddress } == two.withUnsafeBytes { $0.baseAddress })
        // Partly read: the unread rest.
        queue.append(one)
        queue.append(two)
        var buffer = [UInt8](repeating: 0, count: 2)
        #expect(buffer.withUnsafeMutableBytes { queue.read(into: $0) } == 2)
        #expect(queue.byteCount == 5)
        guard case .many(let rest) = queue.removeAll() else { Issue.record("a partly read list, not a list"); return }
        #expect(rest == [[3, 4], [5, 6, 7]])
        // A lone array partly read.
        queue.append(one)
        #expect(buffer.withUnsafeMutableBytes { queue.read(into: $0) } == 2)
        queue.append(two)
        #expect(readAll(&queue, size: 100) == [3, 4, 5, 6, 7])
    }

    @Test func `a copy does not see what the original appends or reads afterwards`() {
        var original = ByteChunkQueue()
        original.append([1, 2])
        original.append([3])
        let copy = original
        original.append([4, 5])
        var buffer = [UInt8](repeating: 0, count: 1)
        _ = buffer.withUnsafeMutableBytes { original.read(into: $0) }
        #expect(original.byteCount == 4)
        var reader = copy
        #expect(copy.byteCount == 3)
        #expect(readAll(&reader, size: 2) == [1, 2, 3])
    }

    @Test func `a queue that always lags a little stays within about twice what waits`() {
        var queue = ByteChunkQueue()
        var buffer = [UInt8](repeating: 0, count: 10)
        var sent: [UInt8] = []
        var appended: [UInt8] = []
        for round in 0..<10_000 {
            let array = [UInt8](repeating: UInt8(truncatingIfNeeded: round), count: 10)
            queue.append(array)
            appended += array
            // Reads what was appended, but always one array behind.
            if round > 0 { sent += buffer[..<buffer.withUnsafeMutableBytes { queue.read(into: $0) }] }
            #expect(queue.byteCount == 10)
        }
        #expect(queue.listCapacityForTesting < 64, "the read slots are dropped, not kept for every array ever sent")
        sent += readAll(&queue, size: 7)
        #expect(sent == appended)
    }
}
