import HTTPTypes
import RillHTTP
import Testing

/// A head whose admission asks for screening: its body waits, unread, until the verdict.
@Suite struct HeadScreeningStateTests {
    /// Screens every head with a body on `/guarded`.
    private static let admission: @Sendable (HTTPRequestHead) -> BodyAdmission = { head in
        BodyAdmission(maxBytes: nil, isScreened: head.path == "/guarded")
    }

    private func receive(_ text: String, into machine: inout HTTPConnectionStateMachine) -> [HTTPConnectionStateMachine.Action] {
        var actions: [HTTPConnectionStateMachine.Action] = []
        Array(text.utf8).withUnsafeBytes { machine.receive($0, admission: Self.admission, into: &actions) }
        return actions
    }

    private func screened(_ admitted: Bool, _ machine: inout HTTPConnectionStateMachine) -> [HTTPConnectionStateMachine.Action] {
        var actions: [HTTPConnectionStateMachine.Action] = []
        machine.headScreened(admitted: admitted, admission: Self.admission, into: &actions)
        return actions
    }

    private static let head = "POST /guarded HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"

    @Test func `admitted, the client is invited and its body read and handled`() {
        var machine = HTTPConnectionStateMachine()
        let first = receive(Self.head, into: &machine)
        #expect(first.count == 2)
        guard case .screenHead(let head) = first.first else {
            Issue.record("no screening: \(first)")
            return
        }
        #expect(head.path == "/guarded")
        #expect(first.last == .pauseReading, "the body waits in the kernel")
        #expect(!first.contains(.sendContinue), "no invitation before the verdict")
        #expect(machine.phase == .receivingRequest, "the request timeout runs meanwhile")
        #expect(screened(true, &machine) == [.sendContinue, .resumeReading])
        let body = receive("hello", into: &machine)
        guard case .handle(_, let bytes) = body.first else {
            Issue.record("not handled: \(body)")
            return
        }
        #expect(bytes == Array("hello".utf8))
    }

    @Test func `refused, the body is never parsed and the connection closes after the answer`() {
        var machine = HTTPConnectionStateMachine()
        // The body came in the same read as the head: it stays unparsed.
        let first = receive(Self.head + "hello", into: &machine)
        #expect(first.count == 2)
        #expect(machine.receivingBodyByteCount == 0, "nothing of the body counts as received")
        #expect(receive("more", into: &machine) == [], "bytes that still arrive are not parsed")
        #expect(screened(false, &machine) == [.closeAfterFlush])
        #expect(machine.phase == .closed)
        #expect(screened(true, &machine) == [], "a late verdict changes nothing")
    }

    @Test func `a head without a body, or on another route, is not screened`() {
        var machine = HTTPConnectionStateMachine()
        let get = receive("GET /guarded HTTP/1.1\r\nHost: x\r\n\r\n", into: &machine)
        guard case .handle = get.first, get.count == 1 else {
            Issue.record("\(get)")
            return
        }
        var other = HTTPConnectionStateMachine()
        #expect(receive("POST /open HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", into: &other) == [.sendContinue])
    }

    @Test func `a head pipelined behind a response in progress is screened once that response is done`() {
        var machine = HTTPConnectionStateMachine()
        let first = receive("GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /guarded HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", into: &machine)
        guard case .handle(let head, _) = first.first else {
            Issue.record("\(first)")
            return
        }
        #expect(head.path == "/a")
        #expect(first.dropFirst().elementsEqual([.pauseReading]), "not screened yet, and its body waits: \(first)")
        #expect(machine.receivingBodyByteCount == 0, "nothing of its body counts as received")
        var finished: [HTTPConnectionStateMachine.Action] = []
        machine.responseFinished(keepAlive: true, admission: Self.admission, into: &finished)
        guard case .screenHead(let pending) = finished.first, finished.count == 1 else {
            Issue.record("\(finished)")
            return
        }
        #expect(pending.path == "/guarded")
        let admitted = screened(true, &machine)
        guard case .handle(let next, let body) = admitted.last else {
            Issue.record("\(admitted)")
            return
        }
        #expect(next.path == "/guarded" && body == Array("hello".utf8))
    }

    @Test func `a client that finishes sending during the screening is answered if admitted, closed if refused`() {
        var admittedMachine = HTTPConnectionStateMachine()
        _ = receive("POST /guarded HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", into: &admittedMachine)
        var ended: [HTTPConnectionStateMachine.Action] = []
        admittedMachine.inputEnded(into: &ended)
        #expect(ended.isEmpty, "the verdict decides")
        let admitted = screened(true, &admittedMachine)
        guard case .handle(_, let body) = admitted.last else {
            Issue.record("\(admitted)")
            return
        }
        #expect(body == Array("hello".utf8))
        var refusedMachine = HTTPConnectionStateMachine()
        _ = receive("POST /guarded HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhel", into: &refusedMachine)
        var endedToo: [HTTPConnectionStateMachine.Action] = []
        refusedMachine.inputEnded(into: &endedToo)
        #expect(screened(true, &refusedMachine).last == .closeAfterFlush, "incomplete, and nothing more will come")
    }
}
