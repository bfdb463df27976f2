/// The `Content-Type` of a file from its name's extension, for the file server.
///
/// Text types carry `charset=utf-8`: the files of a web app are UTF-8, and a browser guessing
/// otherwise garbles them. An unknown extension is `application/octet-stream`, which a browser
/// downloads rather than renders (with `X-Content-Type-Options: nosniff`, it does not guess).
enum MediaTypes {
    /// The built-in table, by lowercase extension without the dot.
    static let byExtension: [String: String] = [
        "html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8",
        "css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8", "mjs": "text/javascript; charset=utf-8",
        "json": "application/json", "map": "application/json", "webmanifest": "application/manifest+json",
        "txt": "text/plain; charset=utf-8", "md": "text/markdown; charset=utf-8", "csv": "text/csv; charset=utf-8",
        "xml": "application/xml", "svg": "image/svg+xml", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
        "gif": "image/gif", "webp": "image/webp", "avif": "image/avif", "ico": "image/vnd.microsoft.icon",
        "woff": "font/woff", "woff2": "font/woff2", "ttf": "font/ttf", "otf": "font/otf",
        "wasm": "application/wasm", "pdf": "application/pdf", "zip": "application/zip", "gz": "application/gzip",
        "mp3": "audio/mpeg", "ogg": "audio/ogg", "wav": "audio/wav", "mp4": "video/mp4", "webm": "video/webm",
    ]

    /// What a file of an unknown kind is sent as.
    static let fallback = "application/octet-stream"

    /// The content type for `fileName`: `overrides` first (keys are extensions without the
    /// dot, matched case-insensitively), then the built-in table.
    static func contentType(forFileName fileName: some StringProtocol, overrides: [String: String]) -> String {
        guard let dot = fileName.lastIndex(of: "."), dot != fileName.startIndex else { return fallback }
        let fileExtension = fileName[fileName.index(after: dot)...].lowercased()
        return overrides[fileExtension] ?? byExtension[fileExtension] ?? fallback
    }
}
