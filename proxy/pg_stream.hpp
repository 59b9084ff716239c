#pragma once
// One end of a PostgreSQL connection: a TCP socket that may switch to TLS after
// SSLRequest. Reads and writes report errors through an error_code so that the
// relay loops need no exceptions for ordinary disconnects.
#include <memory>
#include <string>

#include "proxy/asio.hpp"

namespace sqltap::proxy {

class pg_stream {
public:
    explicit pg_stream(tcp::socket s) : sock_(std::move(s)) {}

    bool is_tls() const noexcept { return tls_ != nullptr; }
    tcp::socket& lowest() noexcept { return tls_ ? tls_->next_layer() : sock_; }
    SSL* native_tls() noexcept { return tls_ ? tls_->native_handle() : nullptr; }
    bool is_open() noexcept { return lowest().is_open(); }

    awaitable<std::size_t> read_some(asio::mutable_buffer b, boost::system::error_code& ec);
    awaitable<void> write_all(asio::const_buffer b, boost::system::error_code& ec);
    awaitable<void> accept_tls(asio::ssl::context& ctx, boost::system::error_code& ec);
    // `prepare` may set SNI and host checks on the SSL handle before the handshake.
    template <class F>
    awaitable<void> connect_tls(asio::ssl::context& ctx, F prepare, boost::system::error_code& ec) {
        tls_ = std::make_unique<asio::ssl::stream<tcp::socket>>(std::move(sock_), ctx);
        prepare(tls_->native_handle());
        co_await tls_->async_handshake(asio::ssl::stream_base::client,
                                       asio::redirect_error(asio::use_awaitable, ec));
    }

    // Cancels pending operations and closes the socket; safe to call twice.
    void close() noexcept;
    void cancel() noexcept;

private:
    tcp::socket sock_;
    std::unique_ptr<asio::ssl::stream<tcp::socket>> tls_;
};

}  // namespace sqltap::proxy
