extension ServerSentEvent {
    /// Appends this event in `text/event-stream` wire format to `buffer`.
    ///
    /// Wire format, in this order, each line ending in LF:
    /// 1. `: text` for each line of ``comment`` (a bare `:` for an empty line),
    /// 2. `event: type` (omitted when ``event`` is `nil` or empty: the client's type resets to
    ///    `message` after every event anyway),
    /// 3. `id: value`, or exactly `id:` for an empty id,
    /// 4. `retry: N` with N the whole milliseconds of ``retry``,
    /// 5. `data: line` for each line of ``data``, or exactly `data:` for an empty line,
    /// 6. one empty line, so every event ends with `\n\n`.
    ///
    /// A non-empty value is always written after `": "`: clients strip exactly one space after the
    /// colon, so a value that itself starts with a space survives (`data:  x` decodes as `" x"`).
    /// An empty value is written with no space at all (`data:`, `id:`), which clients read as the
    /// same empty value, with no trailing whitespace on the wire.
    ///
    /// ``data`` and ``comment`` are split on CR, LF and CRLF — the only line terminators of the
    /// format — and never on U+2028, U+2029, U+0085, VT or FF, which are ordinary data. A trailing
    /// line break yields a final empty `data:` line, so data round-trips through a conforming
    /// client exactly, except that CR and CRLF come back as LF (the format cannot tell them apart).
    ///
    /// An event with no fields at all (or only an empty `event`) appends nothing.
    ///
    /// - Parameter buffer: The buffer to append to; existing bytes are kept.
    /// - Throws: ``ServerSentEventError`` if `event` contains CR or LF, `id` contains CR, LF or NUL,
    ///   or `retry` is negative. Validation runs before anything is written, so `buffer` is
    ///   unchanged when this throws.
    ///
    /// ```swift
    /// var buffer: [UInt8] = []
    /// try ServerSentEvent(data: "a\nb", id: "1").encode(into: &buffer)
    /// // "id: 1\ndata: a\ndata: b\n\n"
    /// ```
    public func encode(into buffer: inout [UInt8]) throws(ServerSentEventError) {
        try validate()

        // One growth step up front instead of several while appending. Grow at least
        // geometrically, because callers may append many events to one buffer and an exact-size
        // reservation on every call would copy the whole buffer each time.
        let neededByteCount = buffer.count + estimatedByteCount
        if neededByteCount > buffer.capacity {
            buffer.reserveCapacity(Swift.max(neededByteCount, buffer.capacity * 2))
        }

        let startByteCount = buffer.count
        if let comment {
            Self.appendLines(of: comment, fieldName: "", into: &buffer)
        }
        if let event, !event.isEmpty {
            Self.appendSingleLine(event, fieldName: "event", into: &buffer)
        }
        if let id {
            Self.appendSingleLine(id, fieldName: "id", into: &buffer)
        }
        if let retry {
            Self.appendFieldName("retry", into: &buffer)
            buffer.append(ASCII.colon)
            buffer.append(ASCII.space)
            Self.appendWholeMilliseconds(of: retry, into: &buffer)
            buffer.append(ASCII.lineFeed)
        }
        if let data {
            Self.appendLines(of: data, fieldName: "data", into: &buffer)
        }
        // The blank line that ends (and, for a client, dispatches) the event. Skipped when there
        // were no fields, so an empty event cannot turn into a stray blank line on the wire.
        if buffer.count != startByteCount {
            buffer.append(ASCII.lineFeed)
        }
    }

    /// Returns this event in `text/event-stream` wire format; see ``encode(into:)`` for the exact
    /// bytes and the rules.
    ///
    /// - Throws: ``ServerSentEventError`` if a field cannot be encoded safely.
    ///
    /// ```swift
    /// let bytes = try ServerSentEvent(data: "hi", event: "greeting").encoded()
    /// // "event: greeting\ndata: hi\n\n"
    /// ```
    public func encoded() throws(ServerSentEventError) -> [UInt8] {
        var buffer: [UInt8] = []
        try encode(into: &buffer)
        return buffer
    }

    /// Returns a comment-only event, `: text\n\n`, for heartbeats and for flushing response
    /// headers before the first real event.
    ///
    /// Comments are invisible to `onmessage` and event listeners, so unlike an `event: ping` they
    /// need no client code. A multi-line `text` becomes one `:` line per line; an empty `text`
    /// becomes `:\n\n`. This cannot fail, so it needs no `try`.
    ///
    /// ```swift
    /// let heartbeat = ServerSentEvent.encodedComment("keep-alive")   // ": keep-alive\n\n"
    /// ```
    public static func encodedComment(_ text: String) -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(text.utf8.count + 4)
        appendLines(of: text, fieldName: "", into: &buffer)
        buffer.append(ASCII.lineFeed)
        return buffer
    }

    // MARK: - Validation

    /// Rejects values that would break out of their field on the wire (S2) or cannot be written.
    private func validate() throws(ServerSentEventError) {
        if let event, event.utf8.contains(where: Self.isLineBreak) {
            throw .eventTypeContainsLineBreak(event)
        }
        if let id {
            if id.utf8.contains(where: Self.isLineBreak) {
                throw .idContainsLineBreak(id)
            }
            if id.utf8.contains(ASCII.null) {
                throw .idContainsNull(id)
            }
            if let first = id.utf8.first, let last = id.utf8.last, Self.isBlank(first) || Self.isBlank(last) {
                throw .idHasSurroundingWhitespace(id)
            }
        }
        if let retry, retry < .zero {
            throw .negativeRetry(retry)
        }
    }

    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    private static func isLineBreak(_ byte: UInt8) -> Bool {
        byte == ASCII.lineFeed || byte == ASCII.carriageReturn
    }

    /// An upper-bound guess for the common case: the values plus a few bytes of field names per
    /// field. Many-line data may need more, which the array grows into as usual.
    private var estimatedByteCount: Int {
        var byteCount = 1
        if let comment { byteCount += comment.utf8.count + 3 }
        if let event { byteCount += event.utf8.count + 8 }
        if let id { byteCount += id.utf8.count + 5 }
        if retry != nil { byteCount += 28 }
        if let data { byteCount += data.utf8.count + 7 }
        return byteCount
    }

    // MARK: - Writing

    /// Writes `fieldName: line` for each line of `text`, splitting on CR, LF and CRLF (S1).
    /// An empty `fieldName` writes comment lines (`: line`).
    private static func appendLines(
        of text: String, fieldName: StaticString, into buffer: inout [UInt8]
    ) {
        var text = text  // `withUTF8` needs a mutable string; this copy only retains the storage.
        text.withUTF8 { bytes in
            var lineStart = 0
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == ASCII.lineFeed || byte == ASCII.carriageReturn {
                    appendLine(
                        UnsafeBufferPointer(rebasing: bytes[lineStart..<index]),
                        fieldName: fieldName, into: &buffer)
                    let isCRLF =
                        byte == ASCII.carriageReturn && index + 1 < bytes.count
                        && bytes[index + 1] == ASCII.lineFeed
                    index += isCRLF ? 2 : 1
                    lineStart = index
                } else {
                    index += 1
                }
            }
            // The last line, empty when the text is empty or ends in a line break: that empty
            // `data:` line is what makes a trailing newline survive the client's stripping of
            // one final LF.
            appendLine(
                UnsafeBufferPointer(rebasing: bytes[lineStart..<bytes.count]),
                fieldName: fieldName, into: &buffer)
        }
    }

    /// Writes `fieldName: value` for a value already known to hold no line break.
    private static func appendSingleLine(
        _ value: String, fieldName: StaticString, into buffer: inout [UInt8]
    ) {
        var value = value
        value.withUTF8 { bytes in
            appendLine(bytes, fieldName: fieldName, into: &buffer)
        }
    }

    /// Writes `fieldName: value\n`, or `fieldName:\n` for an empty value.
    private static func appendLine(
        _ value: UnsafeBufferPointer<UInt8>, fieldName: StaticString, into buffer: inout [UInt8]
    ) {
        appendFieldName(fieldName, into: &buffer)
        buffer.append(ASCII.colon)
        if !value.isEmpty {
            buffer.append(ASCII.space)
            buffer.append(contentsOf: value)
        }
        buffer.append(ASCII.lineFeed)
    }

    private static func appendFieldName(_ fieldName: StaticString, into buffer: inout [UInt8]) {
        fieldName.withUTF8Buffer { buffer.append(contentsOf: $0) }
    }

    /// Writes the duration as whole milliseconds in decimal digits (S4), truncating any
    /// sub-millisecond part. Works from the (seconds, attoseconds) components so that even
    /// `Duration.seconds(Int64.max)` is written exactly, with no overflow.
    private static func appendWholeMilliseconds(of duration: Duration, into buffer: inout [UInt8]) {
        let (seconds, attoseconds) = duration.components  // both ≥ 0: validated non-negative
        let milliseconds = UInt64(attoseconds / 1_000_000_000_000_000)  // 0...999
        if seconds == 0 {
            appendDecimal(milliseconds, into: &buffer)
        } else {
            appendDecimal(UInt64(seconds), into: &buffer)
            buffer.append(ASCII.zero + UInt8(milliseconds / 100))
            buffer.append(ASCII.zero + UInt8(milliseconds / 10 % 10))
            buffer.append(ASCII.zero + UInt8(milliseconds % 10))
        }
    }

    /// Writes `value` in decimal without building a `String`.
    private static func appendDecimal(_ value: UInt64, into buffer: inout [UInt8]) {
        var divisor: UInt64 = 1
        while value / divisor >= 10 {
            divisor *= 10
        }
        while divisor > 0 {
            buffer.append(ASCII.zero + UInt8(value / divisor % 10))
            divisor /= 10
        }
    }
}
