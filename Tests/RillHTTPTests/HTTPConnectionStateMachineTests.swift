import HTTPTypes
import RillHTTP
import Testing

/// Drives a state machine with raw bytes, the way a connection does, and records its actions.
private struct Driver: ~Copyable {
    var machine: HTTPConnectionStateMachine
    var limits: [String: Int] = [:]

    init(_ configuration: HTTPConnectionStateMachine.Configuration = .init()) {
        machine = HTTPConnectionStateMachine(configuration: configuration)
    }

    mutating func receive(_ text: String, byteByByte: Bool = false) -> [HTTPConnectionStateMachine.Action] {
        var actions: [HTTPConnectionStateMachine.Action] = []
        let bytes = Array(text.utf8)
        let limits = self.limits
        let bodyLimit: (HTTPRequestHead) -> Int? = { limits[String($0.path)] }
        if byteByByte {
            for byte in bytes { [byte].withUnsafeBytes { machine.receive($0, bodyLimit: bodyLimit, into: &actions) } }
        } else {
            bytes.withUnsafeBytes { machine.receive($0, bodyLimit: bodyLimit, into: &actions) }
        }
        return actions
    }

    mutating func finish(keepAlive: Bool = true) -> [HTTPConnectionStateMachine.Action] {
        var actions: [HTTPConnectionStateMachine.Action] = []
        let limits = self.limits
        machine.responseFinished(keepAlive: keepAlive, bodyLimit: { limits[String($0.path)] }, into: &actions)
        return actions
    }

    mutating func endOfInput() -> [HTTPConnectionStateMachine.Action] {
        var actions: [HTTPConnectionStateMachine.Action] = []
        machine.inputEnded(into: &actions)
        return actions
    }
}

/// The targets of the `.handle` actions, in order.
private func handled(_ actions: [HTTPConnectionStateMachine.Action]) -> [String] {
    actions.compactMap { if case .handle(let head, _) = $0 { head.target } else { nil } }
}

private func request(_ path: String, _ extra: String = "") -> String {
    "GET \(path) HTTP/1.1\r\nHost: x\r\n\(extra)\r\n"
}

@Suite struct HTTPConnectionStateMachineTests {
    @Test(arguments: [false, true])
    func `a complete request is handled and the connection goes idle after its response`(byteByByte: Bool) {
        var driver = Driver()
        #expect(driver.machine.phase == .idle)
        let actions = driver.receive(request("/a"), byteByByte: byteByByte)
        #expect(handled(actions) == ["/a"])
        #expect(driver.machine.phase == .handling)
        #expect(driver.finish().isEmpty)
        #expect(driver.machine.phase == .idle)
    }

    @Test func `a partial request is in the receiving phase`() {
        var driver = Driver()
        #expect(driver.receive("GET /a HTTP/1.1\r\nHo").isEmpty)
        #expect(driver.machine.phase == .receivingRequest)
    }

    @Test func `pipelined requests are handled one at a time, in order`() {
        var driver = Driver()
        let burst = (1...5).map { request("/\($0)") }.joined()
        #expect(handled(driver.receive(burst)) == ["/1"])
        var order: [String] = ["/1"]
        for _ in 2...5 { order += handled(driver.finish()) }
        #expect(order == ["/1", "/2", "/3", "/4", "/5"])
        #expect(driver.finish().isEmpty)
        #expect(driver.machine.phase == .idle)
    }

    @Test func `reading pauses when too many requests wait and resumes when they drain`() {
        var driver = Driver(.init(maxQueuedRequests: 2))
        let actions = driver.receive((1...6).map { request("/\($0)") }.joined())
        #expect(actions.contains(.pauseReading))
        var resumed = false
        for _ in 0..<6 {
            let next = driver.finish()
            if next.contains(.resumeReading) { resumed = true }
        }
        #expect(resumed)
    }

    @Test func `a request line without headers yet is in the receiving phase`() {
        var driver = Driver()
        #expect(driver.receive("GET /a HTTP/1.1\r\n").isEmpty)
        #expect(driver.machine.phase == .receivingRequest)
        #expect(driver.receive("Host: x\r\n").isEmpty)
        #expect(driver.machine.phase == .receivingRequest)
    }

    @Test(arguments: [false, true])
    func `reading pauses once pipelined requests hold more than the byte limit`(byteByByte: Bool) {
        var driver = Driver(.init(maxQueuedRequests: 32, maxQueuedRequestBytes: 4096))
        let body = String(repeating: "b", count: 1500)
        let post = "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 1500\r\n\r\n" + body
        var actions = driver.receive(request("/first"))
        #expect(handled(actions) == ["/first"])
        // Ten 1.5 KB requests behind the one being handled: reading pauses after about 4 KB.
        actions = driver.receive(String(repeating: post, count: 10), byteByByte: byteByByte)
        #expect(actions.contains(.pauseReading))
        #expect(handled(actions).isEmpty)
        // Nothing is lost: every request is answered in turn, and reading resumes.
        var order: [String] = []
        var resumed = false
        for _ in 0..<11 {
            let next = driver.finish()
            order += handled(next)
            if next.contains(.resumeReading) { resumed = true }
        }
        #expect(order == Array(repeating: "/p", count: 10))
        #expect(resumed)
    }

    @Test func `a byte-paused connection holds no more than the limit plus one read`() {
        var driver = Driver(.init(maxQueuedRequests: 32, maxQueuedRequestBytes: 64 * 1024))
        #expect(handled(driver.receive(request("/first"))) == ["/first"])
        let body = String(repeating: "b", count: 1024 * 1024)
        let post = "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
        var paused = false
        // A reader delivers at most 64 KiB at a time; after a pause the socket is not read.
        let bytes = Array(String(repeating: post, count: 3).utf8)
        var offset = 0
        while offset < bytes.count && !paused {
            let end = min(bytes.count, offset + 64 * 1024)
            var actions: [HTTPConnectionStateMachine.Action] = []
            bytes[offset..<end].withUnsafeBytes { driver.machine.receive($0, bodyLimit: { _ in nil }, into: &actions) }
            offset = end
            paused = actions.contains(.pauseReading)
        }
        #expect(paused)
        #expect(driver.machine.heldRequestByteCount <= 128 * 1024)
    }

    @Test func `input behind an endless response is dropped and the connection closes after it`() {
        var driver = Driver()
        #expect(handled(driver.receive(request("/events"))) == ["/events"])
        var actions: [HTTPConnectionStateMachine.Action] = []
        driver.machine.responseIsEndless(into: &actions)
        #expect(actions.isEmpty)
        #expect(driver.receive(String(repeating: request("/next"), count: 100)).isEmpty)
        #expect(driver.machine.heldRequestByteCount == 0)
        #expect(driver.finish() == [.closeAfterFlush])
    }

    @Test func `an endless response with nothing behind it keeps the connection`() {
        var driver = Driver()
        #expect(handled(driver.receive(request("/events"))) == ["/events"])
        var actions: [HTTPConnectionStateMachine.Action] = []
        driver.machine.responseIsEndless(into: &actions)
        #expect(driver.finish().isEmpty)
        #expect(driver.machine.phase == .idle)
        #expect(handled(driver.receive(request("/again"))) == ["/again"])
    }

    @Test func `an endless response resumes paused reading so that EOF is noticed`() {
        var driver = Driver(.init(maxQueuedRequests: 1))
        let actions = driver.receive((1...4).map { request("/\($0)") }.joined())
        #expect(actions.contains(.pauseReading))
        var endless: [HTTPConnectionStateMachine.Action] = []
        driver.machine.responseIsEndless(into: &endless)
        #expect(endless == [.resumeReading])
        #expect(driver.endOfInput() == [.cancelHandling])
        #expect(driver.finish() == [.closeAfterFlush])
    }

    @Test func `bodies arrive whole with their request`() {
        var driver = Driver()
        let actions = driver.receive("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", byteByByte: true)
        guard case .handle(let head, let body) = actions.first(where: { if case .handle = $0 { true } else { false } }) else {
            Issue.record("no request handled: \(actions)")
            return
        }
        #expect(head.method == .post)
        #expect(body == Array("hello".utf8))
    }

    @Test func `Expect 100-continue is answered before the body unless the body is too large`() {
        var driver = Driver()
        let small = driver.receive("POST /p HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        #expect(small == [.sendContinue])
        var limited = Driver()
        limited.limits["/p"] = 2
        let large = limited.receive("POST /p HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        #expect(large == [.reject(.bodyTooLarge)])
    }

    @Test func `a per-route body limit rejects with 413`() {
        var driver = Driver()
        driver.limits["/small"] = 4
        let actions = driver.receive("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        #expect(actions == [.reject(.bodyTooLarge)])
        #expect(driver.machine.phase == .closed)
    }

    @Test func `an error after pipelined requests waits for their responses`() {
        var driver = Driver()
        let actions = driver.receive(request("/ok") + "BROKEN\r\n\r\n")
        #expect(handled(actions) == ["/ok"])
        #expect(!actions.contains { if case .reject = $0 { true } else { false } })
        let after = driver.finish()
        #expect(after.count == 1)
        if case .reject(let error) = after.first { #expect(error.status == .badRequest) } else { Issue.record("\(after)") }
    }

    @Test func `Connection close and HTTP/1.0 end the connection after the response`() {
        var driver = Driver()
        _ = driver.receive(request("/a", "Connection: close\r\n"))
        #expect(driver.finish(keepAlive: false) == [.closeAfterFlush])
        var old = Driver()
        let actions = old.receive("GET /a HTTP/1.0\r\n\r\n")
        guard case .handle(let head, _) = actions.first else { Issue.record("\(actions)"); return }
        #expect(head.keepAlive == false)
    }

    @Test func `end of input cancels the handler but lets its response finish`() {
        var driver = Driver()
        _ = driver.receive(request("/slow"))
        #expect(driver.endOfInput() == [.cancelHandling])
        #expect(driver.finish() == [.closeAfterFlush])
        var idle = Driver()
        #expect(idle.endOfInput() == [.closeAfterFlush])
    }

    @Test func `HTTP/2 preface is rejected with 505`() {
        var driver = Driver()
        let actions = driver.receive("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", byteByByte: true)
        #expect(actions == [.reject(.unsupportedVersion)])
    }

    @Test func `closeWhenIdle closes an idle connection at once and a busy one after its response`() {
        var idle = Driver()
        var actions: [HTTPConnectionStateMachine.Action] = []
        idle.machine.closeWhenIdle(into: &actions)
        #expect(actions == [.closeAfterFlush])
        var busy = Driver()
        _ = busy.receive(request("/a") + request("/b"))
        actions = []
        busy.machine.closeWhenIdle(into: &actions)
        #expect(actions.isEmpty)
        #expect(busy.finish() == [.closeAfterFlush])
    }
}
