#pragma once
// The hook through which capture sees and rewrites traffic. A session calls it
// for every message in both directions, in order, on the session's thread.
// Without a filter, messages pass through unchanged and unparsed.
#include "protocol/bytes.hpp"
#include "protocol/frame_reader.hpp"
#include "protocol/messages.hpp"
#include "proxy/asio.hpp"

namespace sqltap::proxy {

// What to do with a whole message.
enum class verdict {
    forward,   // send it on unchanged
    replace,   // send what the filter appended to `out` instead (possibly nothing)
    // Client messages only: send what was appended to `out` (an injected
    // query, say), then wait for wait_ready() and offer the same message
    // again. The publisher's side goes on flowing meanwhile: that is where
    // the filter learns what it waits for. Meanwhile the client is not read.
    hold,
};

// A filter that swallows the answers to queries it injected must still pass on
// the asynchronous messages that arrive meanwhile: NotificationResponse ('A')
// and ParameterStatus ('S') belong to no query.
//
// Each direction is written by one relay loop only, so a filter never writes
// to the client from the client's side: to refuse a statement it replaces it
// with one that raises the error on the server, which keeps the server's
// transaction state and what the client is told in agreement.
class traffic_filter {
public:
    virtual ~traffic_filter() = default;

    // True when the filter must see this message whole; otherwise a message
    // larger than the session's buffer may be passed through in pieces and the
    // filter only hears of it through on_streamed().
    virtual bool needs_whole(protocol::sender from, char tag) const noexcept = 0;

    // A whole message, in order. `out` is empty on entry.
    virtual verdict on_message(protocol::sender from, const protocol::frame& f,
                               protocol::byte_buffer& out) = 0;

    // After a hold: completes when the held client message may be offered again.
    virtual awaitable<void> wait_ready() = 0;
    // The session is ending: a wait_ready() in progress must complete now.
    virtual void abort_wait() = 0;

    // A message that is being passed through in pieces.
    virtual void on_streamed(protocol::sender from, const protocol::frame_header& h) = 0;
};

}  // namespace sqltap::proxy
