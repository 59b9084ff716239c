#pragma once
// The capture side of one client session: a proxy::traffic_filter that
// analyses what the client sends, rewrites writes to captured tables so they
// return their rows, strips what it added from the answers, buffers the rows
// per transaction and appends them to the change log when the transaction
// commits, in the order COMMITs are forwarded.
//
// Simple-query protocol:
//   - an autocommit message that writes (or may write) captured tables is
//     wrapped: "BEGIN;<snapshot>;" + the client's text + ";<snapshot>", its
//     closing ReadyForQuery ('T') is swallowed, then the writes are checked,
//     the changes appended (durably first in strict mode) and COMMIT sent by
//     sqltapd; the client sees the answers to its statements and the final
//     ReadyForQuery ('I'), exactly as without sqltapd (error positions are
//     mapped back to the client's text);
//   - a client's COMMIT (or PREPARE TRANSACTION) waits until every earlier
//     answer is in, takes a write-count snapshot, appends, then goes on;
//   - a message holding a COMMIT among other statements is sent in parts, cut
//     around the COMMIT, and stops at the first part that fails.
// Extended-protocol batches are passed through and tracked for their
// ReadyForQuery; their writes are found by the COMMIT's write-count check.
#include <memory>
#include <string>

#include "capture/engine.hpp"
#include "proxy/asio.hpp"
#include "proxy/traffic_filter.hpp"

namespace sqltap::capture {

struct session_context {
    std::string database, user, application_name;
};

// The origin logged with a session's transactions: for a replay engine's apply
// session (application_name "sqltap-replay/<origin>", as it connects) the
// origin it applies from, so that no applier sends those changes back there;
// empty for everyone else.
std::string origin_of(const session_context& ctx);

class session_capture final : public proxy::traffic_filter {
public:
    session_capture(std::shared_ptr<engine> e, asio::any_io_executor ex, session_context ctx);
    ~session_capture() override;

    bool needs_whole(protocol::sender from, char tag) const noexcept override;
    proxy::verdict on_message(protocol::sender from, const protocol::frame& f, protocol::byte_buffer& out) override;
    awaitable<void> wait_ready() override;
    void abort_wait() override;
    void on_streamed(protocol::sender from, const protocol::frame_header& h) override;

    struct state;

private:
    std::shared_ptr<state> st_;
};

// A statement that raises an ERROR with this SQLSTATE and message on the
// server, so that the server's transaction state and what the client is told
// agree (DO block; quotes are escaped).
std::string raise_sql(std::string_view sqlstate, std::string_view message, std::string_view hint = {});

}  // namespace sqltap::capture
