#pragma once
// One client connection: startup and TLS negotiation, the connection to the
// publisher, authentication (relayed, or SCRAM terminated with the auth_file),
// then two relay loops, one per direction, each passing every message through
// the session's traffic_filter. Runs on one io_context thread throughout.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "protocol/builders.hpp"
#include "protocol/frame_reader.hpp"
#include "protocol/startup.hpp"
#include "proxy/asio.hpp"
#include "proxy/cancel_map.hpp"
#include "proxy/deadline.hpp"
#include "proxy/pg_stream.hpp"
#include "proxy/runtime.hpp"

namespace sqltap::proxy {

class session : public std::enable_shared_from_this<session> {
public:
    session(tcp::socket client, std::shared_ptr<shared_state> shared);
    ~session();

    // Starts the session on the client socket's executor.
    static void start(tcp::socket client, std::shared_ptr<shared_state> shared);
    // Ends the session now; call on the session's executor.
    void close_now();

private:
    struct pump_result {
        bool protocol_error = false;
        std::string what;          // for the log and the client's error
        bool at_boundary = true;   // the destination saw only whole messages
    };

    awaitable<void> run();
    awaitable<bool> read_startup();
    awaitable<bool> connect_publisher();
    awaitable<bool> authenticate();
    awaitable<bool> relay_sasl(std::vector<std::string> mechanisms);
    awaitable<bool> terminate_scram(const struct auth_entry& user);
    awaitable<bool> finish_login();
    awaitable<void> relay();
    // The admin console ([admin] users, database "sqltap") after login.
    awaitable<void> console();
    awaitable<void> pump(pg_stream& from, pg_stream& to, protocol::frame_reader& rd,
                         protocol::sender dir, pump_result& result);

    // Reads until a whole frame is buffered; copies it out. nullopt: the session ends.
    awaitable<std::optional<protocol::byte_buffer>> read_frame(pg_stream& s, protocol::frame_reader& rd,
                                                               protocol::sender dir, char& tag);
    awaitable<bool> send(pg_stream& s, const protocol::byte_buffer& b);
    // Bytes received, counted for this session and for the totals.
    void count_bytes(protocol::sender dir, std::size_t n);
    // Sends the client an ErrorResponse (FATAL) and records why the session ends.
    awaitable<void> fail(std::string_view sqlstate, std::string message, std::string hint = {});
    void log_end();

    std::shared_ptr<shared_state> shared_;
    std::shared_ptr<const runtime> rt_;
    asio::any_io_executor ex_;
    pg_stream client_;
    std::optional<pg_stream> server_;
    protocol::frame_reader crd_, srd_;
    protocol::startup_message startup_;
    std::string peer_;
    std::chrono::steady_clock::time_point started_;
    std::uint64_t registry_id_ = 0;
    std::optional<cancel_map::client_key> cancel_key_;
    std::unique_ptr<traffic_filter> filter_;
    std::shared_ptr<session_view> view_;  // bytes, queries; what the console shows
    bool console_ = false;
    std::string end_reason_ = "client disconnected";
    bool logged_in_ = false;
    bool closing_ = false;
    bool login_timed_out_ = false;
    bool counted_active_ = false;
    bool down_done_ = false;  // the relay from the publisher has ended
};

}  // namespace sqltap::proxy
