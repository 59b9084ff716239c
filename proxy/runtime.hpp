#pragma once
// What sessions share: the current configuration generation (replaced whole on
// SIGHUP; a session keeps the one it started with), the cancel map, counters
// and the registry used to close sessions at shutdown.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

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
    std::atomic<std::uint64_t> sessions_total{0};
    std::atomic<std::uint64_t> sessions_active{0};
    std::atomic<std::uint64_t> bytes_from_clients{0};
    std::atomic<std::uint64_t> bytes_from_publisher{0};
    std::atomic<std::uint64_t> protocol_errors{0};
    std::atomic<std::uint64_t> cancels_forwarded{0};
};

class session_registry {
public:
    using closer = std::function<void()>;
    std::uint64_t add(closer c);
    void remove(std::uint64_t id);
    void close_all();  // calls every closer (each posts onto its session's thread)
    std::size_t size() const;

private:
    mutable std::mutex mu_;
    std::uint64_t next_ = 1;
    std::map<std::uint64_t, closer> sessions_;
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
    // Makes the filter for a new logged-in session; empty: pure forwarding.
    std::function<std::unique_ptr<traffic_filter>(const session_info&)> filter_factory;

private:
    mutable std::mutex mu_;
    std::shared_ptr<const runtime> current_;
};

}  // namespace sqltap::proxy
