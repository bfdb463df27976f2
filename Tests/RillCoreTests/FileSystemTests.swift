import RillCore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `EventLoop`'s file-system calls: libuv fs requests on the thread pool, resumed on the loop.
@Suite(.timeLimit(.minutes(1))) struct FileSystemTests {
    /// A fresh directory holding `data.bin` (1,000 bytes, byte i = i % 251) and a link to it.
    private func makeDirectory() throws -> String {
        var template = Array("/tmp/rill-fs-XXXXXX".utf8CString)
        let directory = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
        let descriptor = open(directory + "/data.bin", O_WRONLY | O_CREAT, 0o600)
        let bytes = (0..<1000).map { UInt8($0 % 251) }
        #expect(bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) } == 1000)
        close(descriptor)
        #expect(symlink("data.bin", directory + "/link.bin") == 0)
        return directory
    }

    private func remove(_ directory: String) {
        unlink(directory + "/data.bin")
        unlink(directory + "/link.bin")
        rmdir(directory)
    }

    @Test func `stat, realpath, open and read answer from the thread pool`() async throws {
        let directory = try makeDirectory()
        defer { remove(directory) }
        let loop = try EventLoop(name: "fs-test")
        try await Task(executorPreference: loop.executor) {
            let status = try await loop.status(ofFileAt: directory + "/data.bin")
            #expect(status.kind == .regular && status.byteCount == 1000)
            #expect(try await loop.status(ofFileAt: directory).kind == .directory)
            #expect(try await loop.realPath(of: directory + "/./link.bin").hasSuffix("/data.bin"))

            let file = try await loop.openFile(atPath: directory + "/data.bin")
            #expect(try await file.status().isSameVersion(as: status))
            #expect(try await file.read(byteCount: 10, at: 995) == (995..<1000).map { UInt8($0 % 251) }, "fewer at the end")
            #expect(try await file.read(byteCount: 10, at: 5000) == [], "none past it")
            await file.close()
            await file.close()
            #expect(file.isClosed)
            await #expect(throws: UVError.self) { try await file.read(byteCount: 1, at: 0) }
        }.value
        // From a task on another executor: the call hops to the loop.
        #expect(try await loop.openFile(atPath: directory + "/data.bin").read(byteCount: 3, at: 0) == [0, 1, 2])
        await loop.shutdown()
        #expect(loop.leakedHandleCount == 0 && loop.closeResult == 0)
    }

    @Test func `errors carry libuv's code`() async throws {
        let directory = try makeDirectory()
        defer { remove(directory) }
        let loop = try EventLoop(name: "fs-test")
        await #expect(throws: UVError.self) { try await loop.realPath(of: directory + "/missing") }
        do {
            _ = try await loop.openFile(atPath: directory + "/link.bin", followingSymlinks: false)
            Issue.record("a link opened without following links")
        } catch {
            #expect(error.name == "ELOOP")
        }
        do {
            _ = try await loop.status(ofFileAt: directory + "/data.bin/x")
            Issue.record("a path through a file")
        } catch {
            #expect(error.name == "ENOTDIR")
        }
        await loop.shutdown()
        #expect(loop.leakedHandleCount == 0 && loop.closeResult == 0)
    }
}
