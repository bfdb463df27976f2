import RillCore
import Testing

@Suite struct WriteCoalescerTests {
    @Test func `nothing is gathered outside a begin and end`() {
        var coalescer = WriteCoalescer()
        #expect(!coalescer.isGathering)
        let gatheredBuffer = [UInt8]("head".utf8).withUnsafeBytes { coalescer.gather($0) }
        let gatheredArray = coalescer.gather([UInt8]("body".utf8))
        #expect(!gatheredBuffer && !gatheredArray)
        #expect(coalescer.gatheredByteCount == 0)
        #expect(coalescer.takeGathered() == nil)
    }

    @Test func `nested begins send everything once, at the outermost end, in order`() {
        var coalescer = WriteCoalescer()
        coalescer.begin()
        let gatheredHead = coalescer.gather([UInt8]("HTTP/1.1 200 OK\r\n\r\n".utf8))
        coalescer.begin()
        let gatheredOpening = [UInt8](":ok\n\n".utf8).withUnsafeBytes { coalescer.gather($0) }
        #expect(gatheredHead && gatheredOpening)
        #expect(coalescer.end() == nil)
        #expect(coalescer.isGathering)
        let gatheredEvent = coalescer.gather([UInt8]("data: 1\n\n".utf8))
        #expect(gatheredEvent)
        #expect(coalescer.gatheredByteCount == 19 + 5 + 9)
        #expect(coalescer.end() == [UInt8]("HTTP/1.1 200 OK\r\n\r\n:ok\n\ndata: 1\n\n".utf8))
        #expect(!coalescer.isGathering)
        #expect(coalescer.gatheredByteCount == 0)
    }

    @Test func `an end with nothing gathered sends nothing`() {
        var coalescer = WriteCoalescer()
        coalescer.begin()
        #expect(coalescer.end() == nil)
    }

    @Test func `taking what was gathered keeps gathering what follows`() {
        var coalescer = WriteCoalescer()
        coalescer.begin()
        let gatheredFirst = coalescer.gather([1, 2])
        #expect(gatheredFirst)
        #expect(coalescer.takeGathered() == [1, 2])
        #expect(coalescer.isGathering)
        let gatheredSecond = coalescer.gather([3])
        #expect(gatheredSecond)
        #expect(coalescer.end() == [3])
    }
}
