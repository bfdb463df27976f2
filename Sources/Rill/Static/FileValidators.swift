import HTTPTypes
import RillCore
import RillHTTP

#if canImport(Glibc)
    import Glibc
#endif

/// The validators of one version of a file — its entity tag and modification time — and the
/// conditional requests (RFC 9110 §13) decided with them.
///
/// The entity tag is strong and changes whenever the size or the modification time (to the
/// nanosecond) does, as nginx's does: `"<seconds hex>-<nanoseconds hex>-<size hex>"`.
struct FileValidators: Equatable {
    /// The `ETag` value, quotes included.
    let entityTag: String
    /// The modification time, whole seconds since 1970 (what `Last-Modified` can say), at most
    /// `now`: a file dated in the future is sent as modified now (RFC 9110 §8.8.2.1), or a
    /// client that revalidates by date would keep its copy when the file changes before then.
    let lastModifiedSecondsSince1970: Int64

    init(_ status: FileStatus, nowSecondsSince1970: Int64 = Int64(time(nil))) {
        entityTag =
            "\"\(String(status.modificationSecondsSince1970, radix: 16))-\(String(status.modificationNanoseconds, radix: 16))-\(String(status.byteCount, radix: 16))\""
        lastModifiedSecondsSince1970 = min(status.modificationSecondsSince1970, nowSecondsSince1970)
    }

    /// The `Last-Modified` value.
    var lastModified: String { HTTPDate.string(fromSecondsSince1970: Int(lastModifiedSecondsSince1970)) }

    /// What the preconditions of a `GET` or `HEAD` request decide.
    enum Decision: Equatable {
        /// Send the file (or the range).
        case proceed
        /// 304: the client's copy is current.
        case notModified
        /// 412: `If-Match` or `If-Unmodified-Since` failed.
        case preconditionFailed
    }

    /// Evaluates `If-Match`, `If-Unmodified-Since`, `If-None-Match` and `If-Modified-Since` in
    /// RFC 9110 §13.2.2's order: a date is only looked at when the matching tag header is
    /// absent, and a date that does not parse is ignored.
    func evaluate(_ fields: HTTPFields) -> Decision {
        if let ifMatch = fields[.ifMatch] {
            guard Self.anyTag(in: ifMatch, matches: entityTag, weakly: false) else { return .preconditionFailed }
        } else if let date = fields[.ifUnmodifiedSince].flatMap(HTTPDate.secondsSince1970(parsing:)),
            lastModifiedSecondsSince1970 > date
        {
            return .preconditionFailed
        }
        if let ifNoneMatch = fields[.ifNoneMatch] {
            return Self.anyTag(in: ifNoneMatch, matches: entityTag, weakly: true) ? .notModified : .proceed
        }
        if let date = fields[.ifModifiedSince].flatMap(HTTPDate.secondsSince1970(parsing:)), lastModifiedSecondsSince1970 <= date {
            return .notModified
        }
        return .proceed
    }

    /// Whether a `Range` may be honoured: true without `If-Range`, or when its entity tag
    /// matches strongly or its date equals `Last-Modified` (RFC 9110 §13.1.5); otherwise the
    /// whole file is sent.
    func allowsRange(_ fields: HTTPFields) -> Bool {
        guard let ifRange = fields[.ifRange] else { return true }
        let value = ifRange[...].trimmingSpaces()
        if value.hasPrefix("\"") || value.hasPrefix("W/") {
            return Self.anyTag(in: String(value), matches: entityTag, weakly: false)
        }
        return HTTPDate.secondsSince1970(parsing: value) == Int(lastModifiedSecondsSince1970)
    }

    /// Whether the `#entity-tag` list (or `*`) in `header` holds `tag`. The weak comparison
    /// ignores `W/`; the strong one never matches a weak tag. A malformed list matches nothing
    /// from the point where it stops parsing.
    static func anyTag(in header: String, matches tag: String, weakly: Bool) -> Bool {
        if header[...].trimmingSpaces() == "*" { return true }
        let bytes = Array(header.utf8)
        let wanted = Array(tag.utf8)
        var index = 0
        // Each pass consumes at least one byte or returns: bounded by the header's length.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: ",") {
                index += 1
                continue
            }
            var isWeak = false
            if byte == UInt8(ascii: "W"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "/") {
                isWeak = true
                index += 2
            }
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return false }
            guard let close = bytes[(index + 1)...].firstIndex(of: UInt8(ascii: "\"")) else { return false }
            let candidate = bytes[index...close]
            if candidate.elementsEqual(wanted) && (weakly || !isWeak) { return true }
            index = close + 1
        }
        return false
    }
}
