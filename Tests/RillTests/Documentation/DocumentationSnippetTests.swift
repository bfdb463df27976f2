import Foundation
import Testing

/// The DocC catalog's Swift code is compiled in the `*Snippets.swift` files beside this one, each
/// snippet the body of one function between a begin and an end marker that name its article.
/// These tests check that every article shows exactly that code (as ReadmeTests does for README).
@Suite struct DocumentationSnippetTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let catalog = root.appendingPathComponent("Sources/Rill/Rill.docc")
    static let snippetFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    /// The reconnect the Testing article shows does what it says (ids from the clock included).
    @Test func theTestingArticlesReconnectRuns() async throws {
        try await TestingSnippets.aReconnect()
    }

    /// Each article's Swift blocks, in order, equal its compiled snippets, in order; imports a
    /// block shows are imports of the file that compiles it.
    @Test func everySwiftBlockOfTheCatalogIsCodeThatCompilesHere() throws {
        let articles = try FileManager.default.contentsOfDirectory(atPath: Self.catalog.path).filter { $0.hasSuffix(".md") }.sorted()
        #expect(articles.contains("Rill.md"))
        let snippetFiles = try FileManager.default.contentsOfDirectory(atPath: Self.snippetFolder.path)
            .filter { $0.hasSuffix("Snippets.swift") }.sorted()
        var sources: [String] = []
        for file in snippetFiles {
            sources.append(try String(contentsOf: Self.snippetFolder.appendingPathComponent(file), encoding: .utf8))
        }
        var articlesWithSnippets: Set<String> = []
        for article in articles {
            let markdown = try String(contentsOf: Self.catalog.appendingPathComponent(article), encoding: .utf8)
            let blocks = Self.swiftBlocks(in: markdown)
            let compiled = sources.map { (source: $0, snippets: Self.snippets(of: article, in: $0)) }.filter { !$0.snippets.isEmpty }
            #expect(compiled.count <= 1, "\(article): its snippets are spread over several files")
            let snippets = compiled.first?.snippets ?? []
            if !snippets.isEmpty { articlesWithSnippets.insert(article) }
            #expect(blocks.count == snippets.count, "\(article): \(blocks.count) Swift blocks, \(snippets.count) compiled snippets")
            for (block, snippet) in zip(blocks, snippets) {
                let (imports, code) = Self.splitImports(block)
                #expect(code == snippet.code, "\(article): the block differs from the snippet '\(snippet.label)'")
                for line in imports {
                    #expect(
                        compiled.first?.source.components(separatedBy: "\n").contains(line) == true,
                        "\(article): the snippet '\(snippet.label)' shows '\(line)', which its file lacks")
                }
            }
        }
        // Markers naming an article that does not exist would be compiled but never shown.
        let named = Set(sources.flatMap { Self.snippetArticles(in: $0) })
        #expect(named.isSubset(of: articlesWithSnippets), "snippets of missing articles: \(named.subtracting(articlesWithSnippets).sorted())")
    }

    /// The contents of every ```swift fence, each ending with a newline.
    static func swiftBlocks(in markdown: String) -> [String] {
        var blocks: [String] = []
        var current: [String]?
        for line in markdown.components(separatedBy: "\n") {
            if var lines = current {
                if line == "```" {
                    blocks.append(lines.joined(separator: "\n") + "\n")
                    current = nil
                } else {
                    lines.append(line)
                    current = lines
                }
            } else if line == "```swift" {
                current = []
            }
        }
        return blocks
    }

    /// A block's leading `import` lines (and the blank line after them), and the rest.
    static func splitImports(_ block: String) -> (imports: [String], code: String) {
        var lines = block.components(separatedBy: "\n")[...]
        var imports: [String] = []
        while let first = lines.first, first.hasPrefix("import ") {
            imports.append(first)
            lines = lines.dropFirst()
        }
        if !imports.isEmpty, lines.first == "" { lines = lines.dropFirst() }
        return (imports, lines.joined(separator: "\n"))
    }

    /// The article names of every begin marker in `source`.
    static func snippetArticles(in source: String) -> [String] {
        source.components(separatedBy: "\n").compactMap { line in
            let text = line.trimmingCharacters(in: .whitespaces)
            guard text.hasPrefix("// "), text.hasSuffix(" — begin"), let colon = text.firstIndex(of: ":") else { return nil }
            return String(text[text.index(text.startIndex, offsetBy: 3)..<colon])
        }
    }

    /// The bodies of the functions between `// <article>: <label> — begin` and `— end`, in order,
    /// de-indented to the article's level, each ending with a newline.
    static func snippets(of article: String, in source: String) -> [(label: String, code: String)] {
        let lines = source.components(separatedBy: "\n")
        var result: [(label: String, code: String)] = []
        let prefix = "// \(article): "
        for (index, line) in lines.enumerated() {
            let text = line.trimmingCharacters(in: .whitespaces)
            guard text.hasPrefix(prefix), text.hasSuffix(" — begin") else { continue }
            let label = String(text.dropFirst(prefix.count).dropLast(" — begin".count))
            guard let end = lines[index...].firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "\(prefix)\(label) — end" }),
                end - index >= 3
            else {
                result.append((label, "(no end marker, or no function between the markers)"))
                continue
            }
            // The line after the begin marker declares the function; the line before the end
            // marker closes it.
            let body = lines[(index + 2)..<(end - 1)].map { $0.hasPrefix("        ") ? String($0.dropFirst(8)) : $0 }
            result.append((label, body.joined(separator: "\n") + "\n"))
        }
        return result
    }
}
