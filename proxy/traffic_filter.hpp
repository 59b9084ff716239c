#pragma once
// The hook through which capture sees and rewrites traffic. A session calls it
// for every message in both directions, in order, on the session's thread.
// Without a filter, messages pass through unchanged and unparsed.
#include "protocol/bytes.hpp"
#include "protocol/frame_reader.hpp"
#include "protocol/messages.hpp"

namespace sqltap::proxy {

class traffic_filter {
public:
    virtual ~traffic_filter() = default;

    // True when the filter must see this message whole; otherwise a message
    // larger than the session's buffer may be passed through in pieces and the
    // filter only hears of it through on_streamed().
    virtual bool needs_whole(protocol::sender from, char tag) const noexcept = 0;

    // A whole message. Return true to forward it unchanged, or append what to
    // send instead (possibly nothing) to `out` and return false.
    virtual bool on_message(protocol::sender from, const protocol::frame& f,
                            protocol::byte_buffer& out) = 0;

    // A message that is being passed through in pieces.
    virtual void on_streamed(protocol::sender from, const protocol::frame_header& h) = 0;
};

}  // namespace sqltap::proxy
