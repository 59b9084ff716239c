#include "proxy/pg_stream.hpp"

namespace sqltap::proxy {

awaitable<std::size_t> pg_stream::read_some(asio::mutable_buffer b, boost::system::error_code& ec) {
    if (tls_) co_return co_await tls_->async_read_some(b, asio::redirect_error(asio::use_awaitable, ec));
    // Asio tries recv() first and waits only when it would block; a readiness
    // wait armed before each recv() was measured as well: Asio re-arms such a
    // wait with epoll_ctl(), which costs what the failed recv() saves.
    co_return co_await sock_.async_read_some(b, asio::redirect_error(asio::use_awaitable, ec));
}

awaitable<void> pg_stream::write_all(asio::const_buffer b, boost::system::error_code& ec) {
    if (tls_) {
        co_await asio::async_write(*tls_, b, asio::redirect_error(asio::use_awaitable, ec));
        co_return;
    }
    // Write at once when the kernel takes it all (the usual case): an async
    // write would post its completion through the scheduler, which costs an
    // extra epoll_wait per message. Only a full socket buffer makes us wait.
    if (!sock_.non_blocking()) sock_.non_blocking(true, ec);
    std::size_t n = sock_.write_some(b, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
        n = 0;
        ec.clear();
    }
    if (ec || n == b.size()) co_return;
    co_await asio::async_write(sock_, b + n, asio::redirect_error(asio::use_awaitable, ec));
}

awaitable<void> pg_stream::accept_tls(asio::ssl::context& ctx, boost::system::error_code& ec) {
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket>>(std::move(sock_), ctx);
    co_await tls_->async_handshake(asio::ssl::stream_base::server,
                                   asio::redirect_error(asio::use_awaitable, ec));
}

void pg_stream::close() noexcept {
    boost::system::error_code ignored;
    auto& s = lowest();
    s.cancel(ignored);
    s.shutdown(tcp::socket::shutdown_both, ignored);
    s.close(ignored);
}

void pg_stream::cancel() noexcept {
    boost::system::error_code ignored;
    lowest().cancel(ignored);
}

}  // namespace sqltap::proxy
