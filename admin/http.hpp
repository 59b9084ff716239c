#pragma once
// The HTTP endpoint of [admin] listen: GET /metrics and GET /health, on a
// thread of its own (so that it answers in replay-only mode too).
#include <memory>
#include <thread>

#include "admin/sources.hpp"
#include "proxy/asio.hpp"

namespace sqltap::admin {

class http_server {
public:
    // Throws std::runtime_error when it cannot listen.
    http_server(const config::host_port& at, sources src);
    ~http_server();
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;
    tcp::endpoint endpoint() const { return endpoint_; }

private:
    awaitable<void> accept_loop();
    awaitable<void> serve(tcp::socket s);

    sources src_;
    asio::io_context ctx_;
    std::unique_ptr<tcp::acceptor> acceptor_;
    tcp::endpoint endpoint_;
    std::thread thread_;
};

}  // namespace sqltap::admin
