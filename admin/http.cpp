#include "admin/http.hpp"

#include <stdexcept>
#include <string>

#include "admin/metrics.hpp"
#include "proxy/deadline.hpp"
#include "proxy/log.hpp"
#include "proxy/server.hpp"

namespace sqltap::admin {
namespace {

std::string response(int code, std::string_view reason, std::string_view type, const std::string& body,
                     bool head) {
    std::string r = "HTTP/1.1 " + std::to_string(code) + " " + std::string(reason) + "\r\n";
    r += "Content-Type: " + std::string(type) + "\r\n";
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    r += "Connection: close\r\n\r\n";
    if (!head) r += body;
    return r;
}

}  // namespace

http_server::http_server(const config::host_port& at, sources src)
    : src_(std::move(src)), ctx_(1), acceptor_(proxy::listen_on(ctx_, at, "[admin] listen")) {
    endpoint_ = acceptor_->local_endpoint();
    asio::co_spawn(ctx_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ctx_.run(); });
    log::info("metrics on http://", endpoint_.address().to_string(), ":", endpoint_.port(), "/metrics");
}

http_server::~http_server() {
    asio::post(ctx_, [this] {
        boost::system::error_code ignored;
        acceptor_->close(ignored);
        ctx_.stop();
    });
    if (thread_.joinable()) thread_.join();
}

awaitable<void> http_server::accept_loop() {
    for (;;) {
        boost::system::error_code ec;
        tcp::socket s = co_await acceptor_->async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            if (!acceptor_->is_open()) co_return;
            asio::steady_timer t(ctx_, std::chrono::milliseconds(100));
            co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        asio::co_spawn(ctx_, serve(std::move(s)), asio::detached);
    }
}

awaitable<void> http_server::serve(tcp::socket s) {
    proxy::deadline guard(ctx_.get_executor());
    guard.arm(std::chrono::seconds(10), [&s] {
        boost::system::error_code ignored;
        s.close(ignored);
    });
    std::string req;
    boost::system::error_code ec;
    // The request line and headers; a body is not expected.
    co_await asio::async_read_until(s, asio::dynamic_buffer(req, 16384), "\r\n\r\n",
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    std::string line = req.substr(0, req.find("\r\n"));
    auto sp1 = line.find(' '), sp2 = line.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
    std::string reply;
    if (sp1 == std::string::npos || sp2 == std::string::npos) {
        reply = response(400, "Bad Request", "text/plain", "bad request\n", false);
    } else {
        std::string method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1);
        if (auto q = target.find('?'); q != std::string::npos) target.resize(q);
        bool head = method == "HEAD";
        try {
            if (method != "GET" && !head) {
                reply = response(405, "Method Not Allowed", "text/plain", "GET or HEAD\n", false);
            } else if (target == "/metrics") {
                reply = response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", prometheus_text(src_), head);
            } else if (target == "/health") {
                auto h = check_health(src_);
                reply = h.ok ? response(200, "OK", "text/plain; charset=utf-8", "ok\n" + h.text, head)
                             : response(503, "Service Unavailable", "text/plain; charset=utf-8",
                                        "unhealthy\n" + h.text, head);
            } else {
                reply = response(404, "Not Found", "text/plain", "sqltapd serves /metrics and /health\n", head);
            }
        } catch (const std::exception& e) {
            reply = response(500, "Internal Server Error", "text/plain", std::string(e.what()) + "\n", head);
        }
    }
    co_await asio::async_write(s, asio::buffer(reply), asio::redirect_error(asio::use_awaitable, ec));
    s.shutdown(tcp::socket::shutdown_both, ec);
}

}  // namespace sqltap::admin
