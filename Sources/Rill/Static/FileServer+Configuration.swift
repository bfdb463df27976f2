extension FileServer {
    /// How a ``FileServer`` answers.
    ///
    /// ```swift
    /// var configuration = FileServer.Configuration()
    /// configuration.cacheControl = "public, max-age=31536000, immutable"   // fingerprinted assets
    /// configuration.contentTypes["glb"] = "model/gltf-binary"
    /// try router.files("/assets", directory: "Public/assets", configuration: configuration)
    /// ```
    public struct Configuration: Sendable {
        /// The default of ``readChunkBytes``: 64 KiB.
        public static let defaultReadChunkBytes = 64 * 1024
        /// The largest ``readChunkBytes`` accepted: 4 MiB.
        public static let maxReadChunkBytes = 4 * 1024 * 1024

        /// The file served for a directory (after a redirect to the directory's path with a
        /// trailing `/`, so that relative links in it resolve); nil answers directories with 404.
        /// Default `index.html`. Directory listings are never generated.
        public var indexFileName: String?
        /// The bytes read from the file at a time, on libuv's thread pool: each read becomes one
        /// write to the client, and the next read starts only once the client has drained below
        /// the server's write low-water mark. With the server's high-water mark it bounds what a
        /// download holds in memory (about the high-water mark plus one chunk, whatever the file
        /// size). 1 byte to ``maxReadChunkBytes``; default ``defaultReadChunkBytes``.
        public var readChunkBytes: Int {
            didSet {
                precondition(
                    (1...Self.maxReadChunkBytes).contains(readChunkBytes), "readChunkBytes must be in 1...\(Self.maxReadChunkBytes)")
            }
        }
        /// The `Cache-Control` field of files (and 304s); nil sends none. Default `no-cache`:
        /// browsers keep the file but revalidate it (`If-None-Match`, answered 304 while it is
        /// unchanged) before each use, so a deployment is seen at once.
        public var cacheControl: String?
        /// Whether files and directories whose name starts with `.` are served. Default false:
        /// `.git`, `.env` and the like answer 404, as do symbolic links leading to them.
        public var servesHiddenFiles: Bool
        /// Content types by file extension (without the dot, any case), before the built-in
        /// table (`html`, `css`, `js`, `json`, `svg`, `png`, `woff2`, `wasm`…; text types with
        /// `charset=utf-8`); an unknown extension is `application/octet-stream`.
        public var contentTypes: [String: String]

        /// Creates a configuration; every parameter has the default documented on its property.
        public init(
            indexFileName: String? = "index.html", readChunkBytes: Int = Configuration.defaultReadChunkBytes,
            cacheControl: String? = "no-cache", servesHiddenFiles: Bool = false, contentTypes: [String: String] = [:]
        ) {
            precondition((1...Self.maxReadChunkBytes).contains(readChunkBytes), "readChunkBytes must be in 1...\(Self.maxReadChunkBytes)")
            self.indexFileName = indexFileName
            self.readChunkBytes = readChunkBytes
            self.cacheControl = cacheControl
            self.servesHiddenFiles = servesHiddenFiles
            self.contentTypes = contentTypes
        }

        /// ``contentTypes`` with lowercase keys.
        var contentTypeOverrides: [String: String] {
            Dictionary(contentTypes.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { _, last in last })
        }
    }
}
