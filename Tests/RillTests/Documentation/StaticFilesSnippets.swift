import Rill

/// The Swift code of `Rill.docc/StaticFiles.md`, compiled here so it cannot rot (never called).
/// `DocumentationSnippetTests` checks that the article shows exactly this code.
enum StaticFilesSnippets {
    // StaticFiles.md: a folder — begin
    static func folder() async throws {
        let router = Router()
        try router.files("/static", directory: "Public")  // GET /static/app.js → Public/app.js
        router.get("/ping") { request, context in "pong" }
        let app = try Application(router: router)
        try await app.run()
    }
    // StaticFiles.md: a folder — end

    // StaticFiles.md: one file — begin
    static func oneFile(router: Router) throws {
        let pages = try FileServer(directory: "Public")
        router.get("/") { request, context in
            try await pages.response(to: request, context: context, file: "index.html")
        }
    }
    // StaticFiles.md: one file — end

    // StaticFiles.md: the directory at run time — begin
    static func directoryAtRunTime() {
        /// `Public/` beside this source file, unless `--public-dir` names another.
        func publicDirectory(option: String?, sourceFile: String = #filePath) -> String {
            if let option { return option }
            let folder = sourceFile.split(separator: "/", omittingEmptySubsequences: false).dropLast()
            return folder.joined(separator: "/") + "/Public"
        }
    }
    // StaticFiles.md: the directory at run time — end

    // StaticFiles.md: tuning — begin
    static func tuning(router: Router) throws {
        var configuration = FileServer.Configuration()
        configuration.cacheControl = "public, max-age=31536000, immutable"  // fingerprinted file names
        configuration.contentTypes["glb"] = "model/gltf-binary"
        configuration.readChunkBytes = 256 * 1024
        try router.files("/assets", directory: "Public/assets", configuration: configuration)
    }
    // StaticFiles.md: tuning — end
}
