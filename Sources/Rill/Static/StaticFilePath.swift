/// The file a request path names under a file route's root, or nil when it must not be served.
///
/// The raw path is re-split here rather than taken from the route's `**` capture, because the
/// capture joins decoded segments with `/` and so cannot tell `a/b` from `a%2Fb`. Each segment
/// is percent-decoded strictly (a bad escape, `%00` or invalid UTF-8 refuses the path), and
/// refused when it decodes to `.`, `..`, or something holding `/` or `\` (an encoded
/// separator), or — unless hidden files are served — when it starts with `.` (`.git`, `.env`).
/// What is left can only name something under the root by its text; symbolic links are the
/// file server's check (the resolved path must stay under the resolved root).
enum StaticFilePath {
    /// The decoded segments of `path` after its first `prefixSegmentCount` segments, or nil.
    static func components(of path: Substring, droppingPrefixSegments prefixSegmentCount: Int, servesHiddenFiles: Bool) -> [String]? {
        var segments = PathSegments(path)
        for _ in 0..<prefixSegmentCount {
            guard segments.next() != nil else { return nil }
        }
        var components: [String] = []
        while let segment = segments.next() {
            guard let decoded = PercentDecoding.decodePathSegment(segment), isAllowed(decoded, servesHiddenFiles: servesHiddenFiles)
            else { return nil }
            components.append(decoded)
        }
        return components
    }

    /// The `/`-separated relative path a program names (``FileServer/response(to:context:file:)``),
    /// checked by the same rules, or nil.
    static func components(ofRelativePath path: String, servesHiddenFiles: Bool) -> [String]? {
        var components: [String] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            guard isAllowed(segment, servesHiddenFiles: servesHiddenFiles), !segment.contains("\0") else { return nil }
            components.append(String(segment))
        }
        return components
    }

    /// Whether one decoded path component may be served.
    static func isAllowed(_ component: some StringProtocol, servesHiddenFiles: Bool) -> Bool {
        guard !component.isEmpty, component != ".", component != "..", !component.contains("/"), !component.contains("\\") else {
            return false
        }
        return servesHiddenFiles || !component.hasPrefix(".")
    }

    /// Whether `resolved` (a canonical path) is `root` (canonical) or under it, with no hidden
    /// component below the root unless those are served: a symbolic link inside the root that
    /// leads out of it, or to a hidden file, is refused.
    static func isContained(_ resolved: String, in root: String, servesHiddenFiles: Bool) -> Bool {
        if resolved == root { return true }
        let base = root.hasSuffix("/") ? root : root + "/"
        guard resolved.hasPrefix(base) else { return false }
        let relative = resolved.dropFirst(base.count)
        return relative.split(separator: "/").allSatisfy { isAllowed($0, servesHiddenFiles: servesHiddenFiles) }
    }

    /// `components` percent-encoded as a path below `/`, for a `Location` field: everything but
    /// unreserved characters and sub-delimiters is escaped, so the value cannot start a
    /// scheme-relative URL (`//host`) or carry a control character.
    static func encodedPath(_ components: [String]) -> String {
        var result = ""
        for component in components {
            result.append("/")
            for byte in component.utf8 {
                if isUnreserved(byte) {
                    result.unicodeScalars.append(Unicode.Scalar(byte))
                } else {
                    result.append("%")
                    result.append(String(byte >> 4, radix: 16, uppercase: true))
                    result.append(String(byte & 0xF, radix: 16, uppercase: true))
                }
            }
        }
        return result
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"): true
        default: false
        }
    }
}
