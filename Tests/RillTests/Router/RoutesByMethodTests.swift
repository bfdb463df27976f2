import HTTPTypes
import Testing

@testable import Rill

@Suite("RoutesByMethod")
struct RoutesByMethodTests {
    private func route(_ method: HTTPRequest.Method) -> Route {
        Route(method: method, pattern: "/a", maxBodyBytes: nil, handler: { _, _ in Response(status: .ok) }, groups: [])
    }

    @Test func `finds each method's route, replaces and removes one, and lists the methods in order`() {
        var routes = RoutesByMethod()
        #expect(routes[.get] == nil)
        let get = route(.get)
        let post = route(.post)
        routes[.get] = get
        routes[.post] = post
        #expect(routes[.get] === get)
        #expect(routes[.post] === post)
        #expect(routes[.put] == nil)
        #expect(routes[HTTPRequest.Method("PURGE")!] == nil)
        let newer = route(.get)
        routes[.get] = newer
        #expect(routes[.get] === newer)
        #expect(routes.methods == [.get, .post])
        routes[.get] = nil
        #expect(routes[.get] == nil)
        #expect(routes.methods == [.post])
        routes[.delete] = nil
        #expect(routes.methods == [.post])
    }
}
