#pragma once
// The daemon: one io_context per I/O thread (a session lives on one thread, so
// it needs no locks), listeners on a separate context that hand each accepted
// socket to the next thread, and signal handling:
//   SIGTERM  stop accepting, let sessions finish for shutdown_timeout, then close
//   SIGINT   close every session now and exit
//   SIGHUP   re-read the configuration; reloadable keys apply to new sessions
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "proxy/asio.hpp"
#include "proxy/config.hpp"
#include "proxy/runtime.hpp"

namespace sqltap::proxy {

// An acceptor listening on host:port; throws std::runtime_error saying which
// address could not be used (`what` names the setting, e.g. "[admin] listen").
std::unique_ptr<tcp::acceptor> listen_on(asio::io_context& ctx, const config::host_port& at,
                                         std::string_view what = {});

class server {
public:
    // Throws std::runtime_error when the configuration cannot be used.
    explicit server(const config::settings& s);
    ~server();
    // Runs until shut down by a signal (or stop()); returns the exit status.
    int run();
    void stop();
    const std::vector<tcp::endpoint>& endpoints() const { return endpoints_; }
    std::shared_ptr<shared_state> shared() const { return shared_; }
    // Re-reads the configuration file (SIGHUP, the console's RELOAD); returns
    // "" or why the configuration in force stays. Thread-safe.
    std::string reload();

private:
    awaitable<void> accept_loop(tcp::acceptor& acceptor);
    awaitable<void> handle_signals();
    awaitable<void> drain(std::chrono::milliseconds timeout);
    void close_listeners();

    std::shared_ptr<shared_state> shared_;
    asio::io_context main_ctx_;
    std::vector<std::unique_ptr<asio::io_context>> workers_;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_;
    std::vector<std::thread> threads_;
    std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
    std::vector<tcp::endpoint> endpoints_;
    asio::signal_set signals_;
    std::size_t next_worker_ = 0;
    bool stopping_ = false;
    std::mutex reload_mu_;
};

}  // namespace sqltap::proxy
