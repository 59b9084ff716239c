#include "proxy/server.hpp"

#include <stdexcept>

#include "proxy/log.hpp"
#include "proxy/session.hpp"

namespace sqltap::proxy {

std::unique_ptr<tcp::acceptor> listen_on(asio::io_context& ctx, const config::host_port& at, std::string_view what) {
    boost::system::error_code ec;
    tcp::resolver resolver(ctx);
    auto results = resolver.resolve(at.host, std::to_string(at.port), tcp::resolver::passive, ec);
    if (ec || results.empty())
        throw std::runtime_error("cannot resolve " + std::string(what.empty() ? "listen address" : what) + " " + at.host +
                                 ": " + ec.message());
    auto ep = results.begin()->endpoint();
    auto a = std::make_unique<tcp::acceptor>(ctx);
    a->open(ep.protocol(), ec);
    if (!ec) a->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) a->bind(ep, ec);
    if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        throw std::runtime_error("cannot listen on " + (what.empty() ? std::string() : std::string(what) + " ") + at.host + ":" + std::to_string(at.port) + ": " + ec.message());
    return a;
}

server::server(const config::settings& s)
    : shared_(std::make_shared<shared_state>(runtime::build(s))), signals_(main_ctx_) {
    log::level lvl;
    if (log::parse_level(s.proxy.log_level, lvl)) log::set_level(lvl);

    unsigned n = s.proxy.io_threads ? s.proxy.io_threads : std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < n; ++i) {
        workers_.push_back(std::make_unique<asio::io_context>(1));
        work_.push_back(asio::make_work_guard(*workers_.back()));
    }

    for (const auto& hp : s.proxy.listen) {
        acceptors_.push_back(listen_on(main_ctx_, hp));
        endpoints_.push_back(acceptors_.back()->local_endpoint());
    }
    signals_.add(SIGTERM);
    signals_.add(SIGINT);
    signals_.add(SIGHUP);
}

server::~server() {
    stop();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
}

int server::run() {
    for (auto& w : workers_) threads_.emplace_back([ctx = w.get()] { ctx->run(); });
    for (auto& a : acceptors_) {
        asio::co_spawn(main_ctx_, accept_loop(*a), asio::detached);
        log::info("listening on ", a->local_endpoint().address().to_string(), ":",
                  a->local_endpoint().port());
    }
    asio::co_spawn(main_ctx_, handle_signals(), asio::detached);
    main_ctx_.run();
    for (auto& w : work_) w.reset();
    for (auto& w : workers_) w->stop();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    log::info("sqltapd stopped");
    return 0;
}

void server::stop() {
    asio::post(main_ctx_, [this] {
        close_listeners();
        shared_->sessions.close_all();
        main_ctx_.stop();
    });
}

void server::close_listeners() {
    for (auto& a : acceptors_) {
        boost::system::error_code ignored;
        a->close(ignored);
    }
}

awaitable<void> server::accept_loop(tcp::acceptor& acceptor) {
    asio::steady_timer backoff(main_ctx_);
    for (;;) {
        auto& ctx = *workers_[next_worker_++ % workers_.size()];
        boost::system::error_code ec;
        tcp::socket sock = co_await acceptor.async_accept(ctx, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            // Out of file descriptors and the like: say so, and do not spin.
            log::error("accept failed: ", ec.message());
            backoff.expires_after(std::chrono::milliseconds(100));
            co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        sock.set_option(tcp::no_delay(true), ec);
        session::start(std::move(sock), shared_);
    }
}

awaitable<void> server::handle_signals() {
    for (;;) {
        boost::system::error_code ec;
        int sig = co_await signals_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        if (sig == SIGHUP) {
            reload();
            continue;
        }
        if (sig == SIGTERM && !stopping_) {
            stopping_ = true;
            auto timeout = shared_->current()->settings.proxy.shutdown_timeout;
            log::info("SIGTERM: no new connections; waiting up to ", timeout.count(), " ms for ",
                      shared_->sessions.size(), " sessions to end");
            close_listeners();
            asio::co_spawn(main_ctx_, drain(timeout), asio::detached);
            continue;
        }
        // SIGINT, or a second SIGTERM: close now.
        log::info(sig == SIGINT ? "SIGINT" : "SIGTERM again", ": closing ", shared_->sessions.size(),
                  " sessions now");
        stopping_ = true;
        close_listeners();
        shared_->sessions.close_all();
        asio::co_spawn(main_ctx_, drain(std::chrono::milliseconds(2000)), asio::detached);
    }
}

awaitable<void> server::drain(std::chrono::milliseconds timeout) {
    asio::steady_timer t(main_ctx_);
    auto until = std::chrono::steady_clock::now() + timeout;
    boost::system::error_code ec;
    while (shared_->sessions.size() > 0 && std::chrono::steady_clock::now() < until) {
        t.expires_after(std::chrono::milliseconds(50));
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (shared_->sessions.size() > 0) {
        log::info("shutdown timeout: closing ", shared_->sessions.size(), " sessions");
        shared_->sessions.close_all();
        auto grace = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (shared_->sessions.size() > 0 && std::chrono::steady_clock::now() < grace) {
            t.expires_after(std::chrono::milliseconds(20));
            co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
    }
    signals_.cancel();
    main_ctx_.stop();
}

std::string server::reload() {
    std::lock_guard serial(reload_mu_);
    auto old = shared_->current();
    auto res = config::load_file(old->settings.path);
    std::string first_error;
    for (const auto& p : res.problems) {
        std::string where = p.file + (p.line ? ":" + std::to_string(p.line) : "");
        if (p.warning) {
            log::warning(where, ": ", p.message);
        } else {
            log::error(where, ": ", p.message);
            if (first_error.empty()) first_error = where + ": " + p.message;
        }
    }
    if (!res.ok()) {
        log::error("reload: configuration not reloaded; the previous one stays in force");
        return "configuration not reloaded (" + first_error + "); the previous one stays in force";
    }
    try {
        auto rt = runtime::build(res.values);
        if (!(res.values.proxy.listen == old->settings.proxy.listen))
            log::warning("reload: [proxy] listen changes take effect only after a restart");
        if (res.values.proxy.io_threads != old->settings.proxy.io_threads)
            log::warning("reload: [proxy] io_threads changes take effect only after a restart");
        log::level lvl;
        if (log::parse_level(res.values.proxy.log_level, lvl)) log::set_level(lvl);
        shared_->replace(std::move(rt));
        log::info("reload: configuration reloaded from ", old->settings.path);
        return "";
    } catch (const std::exception& e) {
        log::error("reload: configuration not reloaded: ", e.what());
        return std::string("configuration not reloaded: ") + e.what();
    }
}

}  // namespace sqltap::proxy
