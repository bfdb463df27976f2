/// A client-side `text/event-stream` parser that follows the WHATWG "interpreting an event
/// stream" algorithm exactly: the parser behind Rill's test clients and load tools.
///
/// Feed it the response body in whatever chunks the network delivers; it returns the events each
/// chunk completes, in order. A line end may be split across chunks (a CR at the end of one chunk
/// and the LF at the start of the next are one line end), and so may a multi-byte UTF-8 character.
///
/// ```swift
/// var parser = ServerSentEventParser()
/// for chunk in ["data: hel", "lo\n", "\n"] {
///     for event in parser.parse(chunk.utf8) { print(event.data) }   // "hello", once
/// }
/// parser.finish()   // body ended: drops an unterminated event, keeps lastEventID for reconnecting
/// ```
///
/// What it implements:
/// - UTF-8 only, invalid sequences replaced by U+FFFD (decoded per field value, never per byte);
///   one byte order mark skipped only at the very start of a stream.
/// - Lines end in CRLF, LF or CR. Lines starting with `:` are comments. A field's name is the text
///   before the first colon and its value the text after it minus one leading space; a line with
///   no colon is a field with an empty value. Names are case-sensitive; unknown names are ignored.
/// - `data` appends its value and an LF; `event` sets the type; `id` sets the last event id unless
///   the value contains NUL (an empty value resets it); `retry` sets ``reconnectionTime`` if the
///   value is ASCII digits only.
/// - An empty line dispatches: the last event id takes effect even when nothing is dispatched, an
///   event without any `data` field is not dispatched, one trailing LF is removed from the data,
///   and an empty type becomes `"message"`.
///
/// Memory is bounded per line by ``maxLineBytes``: a longer line is dropped as soon as it grows
/// past the limit (its bytes are not kept), ``oversizedLineCount`` increases by one, and the event
/// the line belongs to is not dispatched, so a truncated payload is never delivered as if it were
/// whole. The other lines of that event still apply (an `id` still takes effect). The data of one
/// event is the sum of its `data` lines and is not bounded separately.
public struct ServerSentEventParser: Sendable {
    /// The default for ``maxLineBytes``: 1 MiB.
    public static let defaultMaxLineBytes = 1 << 20

    /// The longest line, in bytes without its line end, that the parser accepts; see the type's
    /// discussion for what happens to a longer one.
    public let maxLineBytes: Int

    /// The id to send as `Last-Event-ID` when reconnecting: the value of the last `id` field of
    /// the last completed event block (`""` when there is none, or after an empty `id:`).
    ///
    /// It changes only when a block ends with its empty line, even if the block had no data and
    /// dispatched nothing; an `id` in an unterminated block at the end of a stream never takes
    /// effect. It survives ``finish()``, so the next connection's events carry it until the
    /// server sends a new one (browsers behave the same way).
    public private(set) var lastEventID: String

    /// The reconnection delay the server asked for in its last valid `retry` field, or `nil` if it
    /// sent none. A value too large for `Duration` milliseconds saturates at `Int64.max` ms.
    /// Survives ``finish()``.
    public private(set) var reconnectionTime: Duration?

    /// How many lines were dropped for being longer than ``maxLineBytes``, over the parser's whole
    /// life (not reset by ``finish()``), so a load tool can report it.
    public private(set) var oversizedLineCount = 0

    // Per-connection state, reset by finish().

    /// The start of a line whose end has not arrived yet.
    private var lineBuffer: [UInt8] = []
    /// A chunk ended in CR, so an LF at the start of the next chunk belongs to the same line end.
    private var lastByteWasCarriageReturn = false
    /// No byte of this stream has been examined yet except possibly part of a byte order mark.
    private var isAtStreamStart = true
    /// How many bytes of a byte order mark (EF BB BF) the stream has started with so far, while
    /// ``isAtStreamStart``; the mark may be split across chunks.
    private var byteOrderMarkBytesMatched = 0
    /// The current line grew past ``maxLineBytes``; skip bytes until its line end.
    private var isDiscardingLine = false

    // Per-event state, reset at each empty line.

    /// The raw bytes of the `data` values, each followed by LF. Kept as bytes and decoded once per
    /// dispatch; decoding the joined lines equals decoding each line, because LF can never be
    /// part of a multi-byte UTF-8 sequence.
    private var dataBuffer: [UInt8] = []
    /// The raw bytes of the last `event` value.
    private var eventTypeBuffer: [UInt8] = []
    /// The last valid `id` value of the current block, which becomes ``lastEventID`` when the
    /// block ends; `nil` when the block had no valid `id`.
    private var pendingLastEventID: String?
    /// A line of this event was dropped for its length, so the event must not be dispatched.
    private var isEventTruncated = false

    /// Creates a parser for a new stream.
    ///
    /// - Parameters:
    ///   - lastEventID: The id from a previous connection when reconnecting, so that events of the
    ///     new stream without their own `id` still carry it (checklist L3).
    ///   - maxLineBytes: The longest line accepted, in bytes; must be at least 1.
    public init(lastEventID: String = "", maxLineBytes: Int = defaultMaxLineBytes) {
        precondition(maxLineBytes >= 1, "maxLineBytes must be at least 1")
        self.lastEventID = lastEventID
        self.maxLineBytes = maxLineBytes
    }

    /// Parses the next chunk of the stream and returns the events it completes, in order.
    ///
    /// Chunks may be split anywhere, including between a CR and its LF or inside a UTF-8
    /// character. Contiguous collections (`[UInt8]`, `String.UTF8View`, …) take the fast path
    /// without copying.
    @inlinable
    public mutating func parse(_ bytes: some Sequence<UInt8>) -> [MessageEvent] {
        if let events = bytes.withContiguousStorageIfAvailable({ buffer in
            self.parse(UnsafeRawBufferPointer(buffer))
        }) {
            return events
        }
        let contiguousBytes = Array(bytes)
        return contiguousBytes.withUnsafeBytes { buffer in self.parse(buffer) }
    }

    /// Parses the next chunk of the stream, straight from a read buffer, and returns the events it
    /// completes, in order. The bytes are not retained after the call.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer) -> [MessageEvent] {
        var events: [MessageEvent] = []
        guard let baseAddress = bytes.baseAddress, !bytes.isEmpty else {
            return events
        }
        let buffer = UnsafeBufferPointer(
            start: baseAddress.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        consume(buffer, into: &events)
        return events
    }

    /// Ends the current stream: discards an event that was not terminated by an empty line
    /// (checklist E4) and any partial line, and resets the per-connection state so the same parser
    /// can read the next connection's stream (a byte order mark is allowed again at its start).
    ///
    /// Keeps ``lastEventID``, ``reconnectionTime`` and ``oversizedLineCount``.
    public mutating func finish() {
        lineBuffer = []
        lastByteWasCarriageReturn = false
        isAtStreamStart = true
        byteOrderMarkBytesMatched = 0
        isDiscardingLine = false
        dataBuffer = []
        eventTypeBuffer = []
        pendingLastEventID = nil
        isEventTruncated = false
    }

    // MARK: - Lines

    private mutating func consume(
        _ bytes: UnsafeBufferPointer<UInt8>, into events: inout [MessageEvent]
    ) {
        var index = 0
        if isAtStreamStart {
            index = skipByteOrderMark(in: bytes)
        }
        if lastByteWasCarriageReturn, index < bytes.count {
            lastByteWasCarriageReturn = false
            if bytes[index] == ASCII.lineFeed {
                index += 1
            }
        }

        var lineStart = index
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == ASCII.lineFeed || byte == ASCII.carriageReturn else {
                index += 1
                continue
            }
            completeLine(UnsafeBufferPointer(rebasing: bytes[lineStart..<index]), into: &events)
            index += 1
            if byte == ASCII.carriageReturn {
                if index == bytes.count {
                    lastByteWasCarriageReturn = true
                } else if bytes[index] == ASCII.lineFeed {
                    index += 1
                }
            }
            lineStart = index
        }
        if lineStart < bytes.count {
            bufferPartialLine(UnsafeBufferPointer(rebasing: bytes[lineStart..<bytes.count]))
        }
    }

    /// Consumes the byte order mark, or the part of it that this chunk holds, and returns the
    /// index of the first byte after it. If the stream turns out not to start with a mark, the
    /// bytes that looked like its start become the start of the first line.
    private mutating func skipByteOrderMark(in bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var index = 0
        while isAtStreamStart, index < bytes.count {
            if bytes[index] == Self.byteOrderMarkByte(at: byteOrderMarkBytesMatched) {
                byteOrderMarkBytesMatched += 1
                index += 1
                if byteOrderMarkBytesMatched == 3 {
                    isAtStreamStart = false
                    byteOrderMarkBytesMatched = 0
                }
            } else {
                isAtStreamStart = false
                for markIndex in 0..<byteOrderMarkBytesMatched {
                    lineBuffer.append(Self.byteOrderMarkByte(at: markIndex))
                }
                byteOrderMarkBytesMatched = 0
            }
        }
        return index
    }

    private static func byteOrderMarkByte(at index: Int) -> UInt8 {
        switch index {
        case 0: 0xEF
        case 1: 0xBB
        default: 0xBF
        }
    }

    /// Keeps the start of a line whose end is in a later chunk, unless that makes it too long.
    private mutating func bufferPartialLine(_ segment: UnsafeBufferPointer<UInt8>) {
        if isDiscardingLine {
            return
        }
        if lineBuffer.count + segment.count > maxLineBytes {
            // Drop it now rather than at its line end, so an endless line cannot grow memory.
            rejectOversizedLine()
            lineBuffer = []
            isDiscardingLine = true
            return
        }
        lineBuffer.append(contentsOf: segment)
    }

    /// Handles a line end: `segment` is the rest of the line in the current chunk.
    private mutating func completeLine(
        _ segment: UnsafeBufferPointer<UInt8>, into events: inout [MessageEvent]
    ) {
        if isDiscardingLine {
            isDiscardingLine = false  // already counted when it went over the limit
            return
        }
        if lineBuffer.isEmpty {
            // The common case: the whole line is in this chunk, so parse it in place.
            if segment.count > maxLineBytes {
                rejectOversizedLine()
                return
            }
            processLine(segment, into: &events)
            return
        }
        if lineBuffer.count + segment.count > maxLineBytes {
            rejectOversizedLine()
            lineBuffer = []
            return
        }
        // Move the buffer out of `self` while the line is read, so processLine may mutate self.
        var line: [UInt8] = []
        swap(&line, &lineBuffer)
        line.append(contentsOf: segment)
        line.withUnsafeBufferPointer { processLine($0, into: &events) }
        line.removeAll(keepingCapacity: line.capacity <= Self.retainedCapacityBytes)
        swap(&line, &lineBuffer)
    }

    /// Buffers are reused between lines and events to avoid allocating, but one huge line or
    /// event should not pin its memory for the life of a connection (a load tool holds thousands).
    private static let retainedCapacityBytes = 16 * 1024

    private mutating func rejectOversizedLine() {
        oversizedLineCount += 1
        isEventTruncated = true
    }

    // MARK: - Fields

    /// Interprets one complete line, without its line end.
    private mutating func processLine(
        _ line: UnsafeBufferPointer<UInt8>, into events: inout [MessageEvent]
    ) {
        guard let firstByte = line.first else {
            dispatch(into: &events)
            return
        }
        if firstByte == ASCII.colon {
            return  // a comment
        }
        let nameEnd = line.firstIndex(of: ASCII.colon) ?? line.count
        var valueStart = Swift.min(nameEnd + 1, line.count)
        if valueStart < line.count, line[valueStart] == ASCII.space {
            valueStart += 1  // exactly one space is part of the syntax, not of the value
        }
        let name = UnsafeBufferPointer(rebasing: line[0..<nameEnd])
        let value = UnsafeBufferPointer(rebasing: line[valueStart..<line.count])

        if Self.name(name, is: "data") {
            dataBuffer.append(contentsOf: value)
            dataBuffer.append(ASCII.lineFeed)
        } else if Self.name(name, is: "event") {
            eventTypeBuffer.removeAll(keepingCapacity: true)
            eventTypeBuffer.append(contentsOf: value)
        } else if Self.name(name, is: "id") {
            if !value.contains(ASCII.null) {
                pendingLastEventID = String(decoding: value, as: UTF8.self)
            }
        } else if Self.name(name, is: "retry") {
            if let milliseconds = Self.milliseconds(fromDigits: value) {
                reconnectionTime = .milliseconds(milliseconds)
            }
        }
        // Any other name is ignored, as the spec requires.
    }

    private static func name(_ name: UnsafeBufferPointer<UInt8>, is fieldName: StaticString) -> Bool {
        fieldName.withUTF8Buffer { name.elementsEqual($0) }
    }

    /// The value of a `retry` field: only a non-empty run of ASCII digits is valid (no sign, no
    /// spaces, no decimal point). Saturates rather than failing on overflow, since the digits
    /// are valid and simply ask for a very long wait.
    private static func milliseconds(fromDigits value: UnsafeBufferPointer<UInt8>) -> Int64? {
        if value.isEmpty {
            return nil
        }
        var milliseconds: Int64 = 0
        for byte in value {
            guard byte >= ASCII.zero, byte <= ASCII.nine else {
                return nil
            }
            let (shifted, shiftOverflow) = milliseconds.multipliedReportingOverflow(by: 10)
            let (sum, addOverflow) = shifted.addingReportingOverflow(Int64(byte - ASCII.zero))
            milliseconds = shiftOverflow || addOverflow ? .max : sum
        }
        return milliseconds
    }

    // MARK: - Dispatch

    /// Handles the empty line that ends an event block.
    private mutating func dispatch(into events: inout [MessageEvent]) {
        // The id takes effect first, so it counts even when nothing is dispatched (L2).
        if let pendingLastEventID {
            lastEventID = pendingLastEventID
            self.pendingLastEventID = nil
        }
        defer {
            dataBuffer.removeAll(keepingCapacity: dataBuffer.capacity <= Self.retainedCapacityBytes)
            eventTypeBuffer.removeAll(keepingCapacity: true)
            isEventTruncated = false
        }
        // No data field at all (E1), or a line of it was dropped: nothing to dispatch.
        if dataBuffer.isEmpty || isEventTruncated {
            return
        }
        let data = dataBuffer.withUnsafeBufferPointer { buffer in
            // Every data value was followed by LF; the last one is not part of the data (E2).
            String(decoding: UnsafeBufferPointer(rebasing: buffer.dropLast()), as: UTF8.self)
        }
        let type =
            eventTypeBuffer.isEmpty ? "message" : String(decoding: eventTypeBuffer, as: UTF8.self)
        events.append(MessageEvent(type: type, data: data, lastEventID: lastEventID))
    }
}
