/// How the server runs a request's handler (``Router/dispatch(_:)``).
enum RequestDispatch {
    /// A synchronous handler that no middleware wraps, with the route's path parameters: called
    /// inline on the connection's loop, with no task.
    case inline(SynchronousResponder, Parameters)
    /// The route's responder (its groups' middleware around its handler) with its path
    /// parameters, in a task: the route is already resolved.
    case route(Responder, Parameters)
    /// The router's responder (its middleware, routing, 404 and 405), in a task.
    case responder
}
