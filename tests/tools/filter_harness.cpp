// Test helper: sqltapd's server, in process, with a test traffic filter, to
// prove the session's filter mechanics (hold, inject, swallow) with real
// clients and a real publisher.
//   filter_harness CONF {hold|inject}
// hold:   every client Query waits for a timer (as a durable log write would)
//         before it is forwarded.
// inject: before every client Query, the filter sends a query of its own,
//         swallows everything the publisher answers to it, and forwards the
//         client's Query only once that answer is complete.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <deque>

#include "protocol/builders.hpp"
#include "proxy/async_event.hpp"
#include "proxy/config.hpp"
#include "proxy/server.hpp"
#include "proxy/traffic_filter.hpp"

using namespace sqltap;
using namespace sqltap::proxy;
using protocol::sender;

namespace {

class hold_filter final : public traffic_filter {
public:
    explicit hold_filter(asio::any_io_executor ex) : timer_(ex) {}
    bool needs_whole(sender, char) const noexcept override { return false; }
    void on_streamed(sender, const protocol::frame_header&) override {}
    verdict on_message(sender from, const protocol::frame& f, protocol::byte_buffer&) override {
        if (from != sender::frontend || f.tag != 'Q') return verdict::forward;
        if (released_) {
            released_ = false;
            return verdict::forward;
        }
        ready_.reset();
        timer_.expires_after(std::chrono::milliseconds(5));
        timer_.async_wait([this](boost::system::error_code) {
            released_ = true;
            ready_.set();
        });
        return verdict::hold;
    }
    awaitable<void> wait_ready() override { co_await ready_.wait(); }
    void abort_wait() override {
        timer_.cancel();
        ready_.set();
    }

private:
    asio::steady_timer timer_;
    async_event ready_;
    bool released_ = false;
};

class inject_filter final : public traffic_filter {
public:
    bool needs_whole(sender, char) const noexcept override { return false; }
    void on_streamed(sender, const protocol::frame_header&) override {}
    verdict on_message(sender from, const protocol::frame& f, protocol::byte_buffer& out) override {
        if (from == sender::frontend) {
            if (f.tag != 'Q') return verdict::forward;
            if (answered_) {
                answered_ = false;
                return verdict::forward;
            }
            ready_.reset();
            protocol::build_query(out, "SELECT 'injected' AS sqltap_probe, pg_current_xact_id() IS NOT NULL");
            swallowing_ = true;
            return verdict::hold;
        }
        if (!swallowing_) return verdict::forward;
        // Asynchronous messages belong to nobody's query: a notification from
        // another session, a changed setting. Never swallow them.
        if (f.tag == 'A' || f.tag == 'S') return verdict::forward;
        if (f.tag == 'Z') {  // the end of the injected query's answer
            swallowing_ = false;
            answered_ = true;
            ready_.set();
        }
        return verdict::replace;  // with nothing: the client never sees it
    }
    awaitable<void> wait_ready() override { co_await ready_.wait(); }
    void abort_wait() override { ready_.set(); }

private:
    async_event ready_;
    bool swallowing_ = false, answered_ = false;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: filter_harness CONF {hold|inject}\n");
        return 2;
    }
    auto loaded = config::load_file(argv[1]);
    if (!loaded.ok()) {
        std::fprintf(stderr, "bad configuration\n");
        return 2;
    }
    std::string kind = argv[2];
    ::signal(SIGPIPE, SIG_IGN);
    server srv(loaded.values);
    srv.shared()->filter_factory = [kind](const session_info& s) -> std::unique_ptr<traffic_filter> {
        if (kind == "hold") return std::make_unique<hold_filter>(s.executor);
        return std::make_unique<inject_filter>();
    };
    return srv.run();
}
