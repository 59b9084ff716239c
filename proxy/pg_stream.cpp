#include "proxy/pg_stream.hpp"

namespace sqltap::proxy {

awaitable<std::size_t> pg_stream::read_some(asio::mutable_buffer b, boost::system::error_code& ec) {
    if (tls_) co_return co_await tls_->async_read_some(b, asio::redirect_error(asio::use_awaitable, ec));
    co_return co_await sock_.async_read_some(b, asio::redirect_error(asio::use_awaitable, ec));
}

awaitable<void> pg_stream::write_all(asio::const_buffer b, boost::system::error_code& ec) {
    if (tls_) co_await asio::async_write(*tls_, b, asio::redirect_error(asio::use_awaitable, ec));
    else co_await asio::async_write(sock_, b, asio::redirect_error(asio::use_awaitable, ec));
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
