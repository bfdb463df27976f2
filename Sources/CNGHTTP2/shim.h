#ifndef RILL_CNGHTTP2_SHIM_H
#define RILL_CNGHTTP2_SHIM_H

#include <nghttp2/nghttp2.h>

/// The frame type of a received or sent frame (the union's common header, which Swift cannot
/// reach through the union's members without a cast).
static inline uint8_t rill_h2_frame_type(const nghttp2_frame *frame) { return frame->hd.type; }
/// The flags of a frame.
static inline uint8_t rill_h2_frame_flags(const nghttp2_frame *frame) { return frame->hd.flags; }
/// The stream a frame belongs to (0: the connection).
static inline int32_t rill_h2_frame_stream_id(const nghttp2_frame *frame) { return frame->hd.stream_id; }
/// The category of a HEADERS frame (request, response, push, trailers).
static inline int rill_h2_headers_category(const nghttp2_frame *frame) { return (int)frame->headers.cat; }
/// The last stream a GOAWAY frame says the peer processed.
static inline int32_t rill_h2_goaway_last_stream_id(const nghttp2_frame *frame) { return frame->goaway.last_stream_id; }
/// The error code of a GOAWAY frame.
static inline uint32_t rill_h2_goaway_error_code(const nghttp2_frame *frame) { return frame->goaway.error_code; }

#endif
