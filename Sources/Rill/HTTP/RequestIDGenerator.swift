import HTTPTypes

/// Makes the ids of one loop's requests: a random prefix and a count. Loop-confined.
struct RequestIDGenerator {
    /// Random per loop (and per process start).
    private let prefix = UInt32.random(in: .min ... .max)
    private var sequence: UInt64 = 0

    /// The id of a request with `headerFields`: the client's valid `X-Request-Id`, or the next
    /// generated one.
    mutating func id(for headerFields: HTTPFields) -> RequestID {
        if let value = headerFields[RequestID.headerName], let id = RequestID(clientValue: value) { return id }
        sequence &+= 1
        return RequestID(prefix: prefix, sequence: sequence)
    }
}
