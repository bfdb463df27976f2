@_exported import HTTPTypes
@_exported import Logging
@_exported import RillPubSub
@_exported import RillSSE

@_exported import class RillCore.EventLoop
@_exported import struct RillCore.SocketAddress
@_exported import struct RillHTTP.HTTPVersion
