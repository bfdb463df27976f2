import HTTPTypes
import Rill
import RillTesting
import Testing

/// `MaxStreamAgeMiddleware`: a stream ends after its age with `event: rill-reconnect` (with
/// data, no id), and the client that resumes with `Last-Event-ID` misses nothing.
@Suite(.timeLimit(.minutes(1)))
struct MaxStreamAgeTests {
    @Test func `a stream ends after its maximum age with rill-reconnect, and a resume with Last-Event-ID loses nothing`() async throws {
        let router = Router()
        router.add(middleware: MaxStreamAgeMiddleware(maxAge: .milliseconds(600), jitter: 0))
        router.get("/events") { request, context in try await context.eventStream(for: request, channels: ["age"]) }
        let app = try Application(router: router, configuration: testConfiguration())
        try await app.test(.live) { client in
            do {
                let stream = try await client.sse("/events")
                let first = try await app.publish(ServerSentEvent(data: "first"), channel: "age").id
                try await stream.waitForBody(containing: "data: first")
                try await stream.waitForBody(containing: "event: rill-reconnect\ndata: {\"reason\":\"max connection age\"}\n\n")
                let events = try await stream.remainingEvents()
                #expect(stream.isEnded, "the response ended after the final event")
                #expect(events.last?.type == "rill-reconnect")
                #expect(events.last?.lastEventID == first, "the final event carries no id of its own")

                // Published while the client was away: the resume replays it.
                let away = try await app.publish(ServerSentEvent(data: "while away"), channel: "age").id
                let resumed = try await client.sse("/events", headerFields: [HTTPField.Name("Last-Event-ID")!: first])
                try await resumed.waitForBody(containing: "id: \(away)\ndata: while away\n\n")
                resumed.close()
            }
        }
    }

    @Test func `the earliest of several deadlines ends the stream`() async throws {
        let router = Router()
        router.add(middleware: MaxStreamAgeMiddleware(maxAge: .seconds(30), jitter: 0))
        router.add(
            middleware: ClosureMiddleware { request, context, next in
                var context = context
                context.limitEventStreams(
                    to: EventStreamDeadline(.now + .milliseconds(300), finalEvent: ServerSentEvent(data: "{}", event: "early")))
                context.limitEventStreams(
                    to: EventStreamDeadline(.now + .seconds(20), finalEvent: ServerSentEvent(data: "{}", event: "late")))
                return try await next(request, context)
            })
        router.get("/events") { request, context in try await context.eventStream(for: request, channels: ["age"]) }
        let app = try Application(router: router, configuration: testConfiguration())
        try await app.test(.live) { client in
            let stream = try await client.sse("/events")
            try await stream.waitForBody(containing: "event: early\n")
            _ = try await stream.remainingEvents()
            #expect(stream.isEnded)
        }
    }
}
