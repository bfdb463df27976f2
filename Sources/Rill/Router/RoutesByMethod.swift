import HTTPTypes

/// The routes of one path pattern, by method. A pattern has one route or a few, so they are
/// kept in a short list and found by comparing the method's name: cheaper, on every request,
/// than the hashing a dictionary keyed by method would do.
struct RoutesByMethod: Sendable {
    private var entries: [(method: HTTPRequest.Method, route: Route)] = []

    /// The route for `method`, nil when the pattern has none; setting one replaces the route
    /// the method had.
    subscript(method: HTTPRequest.Method) -> Route? {
        get {
            for entry in entries where entry.method == method { return entry.route }
            return nil
        }
        set {
            let index = entries.firstIndex { $0.method == method }
            switch (index, newValue) {
            case (let index?, let route?): entries[index].route = route
            case (let index?, nil): entries.remove(at: index)
            case (nil, let route?): entries.append((method, route))
            case (nil, nil): break
            }
        }
    }

    /// The methods that have a route, in the order they were added.
    var methods: [HTTPRequest.Method] { entries.map(\.method) }
}
