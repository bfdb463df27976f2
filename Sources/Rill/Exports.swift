@_exported import HTTPTypes
@_exported import Logging
@_exported import RillPubSub
@_exported import RillSSE
// `ServiceGroup`, `Service` and `gracefulShutdown()`: an Application runs as a Service; the
// signals a group shuts down on (`.sigterm`).
@_exported import ServiceLifecycle
@_exported import UnixSignals

@_exported import class RillCore.EventLoop
@_exported import struct RillCore.SocketAddress
@_exported import struct RillHTTP.HTTPVersion
