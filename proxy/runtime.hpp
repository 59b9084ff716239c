#pragma once
// What sessions share: the current configuration generation (replaced whole on
// SIGHUP; a session keeps the one it started with), the cancel map, counters
// and the registry used to close sessions at shutdown.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "proxy/asio.hpp"
#include "proxy/auth_file.hpp"
#include "proxy/cancel_map.hpp"
#include "proxy/config.hpp"
#include "proxy/traffic_filter.hpp"

namespace sqltap::proxy {

struct runtime {
    config::settings settings;
    std::shared_ptr<asio::ssl::context> server_tls;  // null: clients get 'N'
    std::shared_ptr<asio::ssl::context> client_tls;  // null: sslmode=disable
    std::shared_ptr<const auth_file> users;           // null: no auth_file

    // Builds a generation; throws std::runtime_error on unusable TLS or auth files.
    static std::shared_ptr<const runtime> build(const config::settings& s);
};

struct counters {
    std::atomic<std::uint64_t> queries{0};  // Query and Execute messages from clients
    std::atomic<std::uint64_t> sessions_total{0};
    std::atomic<std::uint64_t> sessions_active{0};
    std::atomic<std::uint64_t> bytes_from_clients{0};
    std::atomic<std::uint64_t> bytes_from_publisher{0};
    std::atomic<std::uint64_t> protocol_errors{0};
    std::atomic<std::uint64_t> cancels_forwarded{0};
};

// What the admin console shows of one session. The session's thread writes
// it; the console reads it from another thread.
class session_view {
public:
    explicit session_view(std::string client) : client_(std::move(client)) {}
    struct row {
        std::uint64_t id = 0;
        std::string client, user, database, application_name, state;
        bool tls = false;
        std::chrono::system_clock::time_point connected;
        std::uint64_t bytes_in = 0, bytes_out = 0, queries = 0;
    };
    void logged_in(std::string user, std::string database, std::string application_name, bool tls,
                   std::string state) {
        std::lock_guard lock(mu_);
        user_ = std::move(user), database_ = std::move(database), application_name_ = std::move(application_name);
        tls_ = tls;
        state_ = std::move(state);
    }
    row read(std::uint64_t id) const;

    std::atomic<std::uint64_t> bytes_in{0}, bytes_out{0}, queries{0};

private:
    const std::string client_;
    const std::chrono::system_clock::time_point connected_ = std::chrono::system_clock::now();
    mutable std::mutex mu_;
    std::string user_, database_, application_name_, state_ = "login";
    bool tls_ = false;
};

class session_registry {
public:
    using closer = std::function<void()>;
    std::uint64_t add(closer c, std::shared_ptr<const session_view> view = nullptr);
    void remove(std::uint64_t id);
    void close_all();  // calls every closer (each posts onto its session's thread)
    std::size_t size() const;
    std::vector<session_view::row> rows() const;  // by id

private:
    struct entry {
        closer close;
        std::shared_ptr<const session_view> view;
    };
    mutable std::mutex mu_;
    std::uint64_t next_ = 1;
    std::map<std::uint64_t, entry> sessions_;
};

// What the admin console answers to one statement: a result set (columns,
// rows of text or NULL, the CommandComplete tag) or an error.
struct console_answer {
    std::vector<std::string> columns;
    std::vector<std::vector<std::optional<std::string>>> rows;
    std::string tag;
    std::string error_code, error;  // error non-empty: an ErrorResponse instead
};

// What a filter may know of its session.
struct session_info {
    asio::any_io_executor executor;  // the session's thread
    std::string database, user, application_name;
};

class shared_state {
public:
    explicit shared_state(std::shared_ptr<const runtime> rt) : current_(std::move(rt)) {}

    std::shared_ptr<const runtime> current() const {
        std::lock_guard lock(mu_);
        return current_;
    }
    void replace(std::shared_ptr<const runtime> rt) {
        std::lock_guard lock(mu_);
        current_ = std::move(rt);
    }

    cancel_map cancels;
    counters stats;
    session_registry sessions;
    // The admin console's answer to one statement (set by the daemon; empty:
    // no console even when [admin] users is set).
    std::function<console_answer(const std::string& sql)> console;
    // Makes the filter for a new logged-in session; empty: pure forwarding.
    std::function<std::unique_ptr<traffic_filter>(const session_info&)> filter_factory;

private:
    mutable std::mutex mu_;
    std::shared_ptr<const runtime> current_;
};

}  // namespace sqltap::proxy
