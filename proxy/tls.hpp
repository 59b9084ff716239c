#pragma once
// OpenSSL contexts for both legs: the server context that terminates client TLS
// (PEM or PKCS#12) and the client context towards the publisher (sslmode).
#include <memory>
#include <string>

#include "proxy/asio.hpp"
#include "proxy/config.hpp"

namespace sqltap::proxy {

// Throws std::runtime_error with a message naming the file and OpenSSL's reason.
std::shared_ptr<asio::ssl::context> make_server_tls(const config::proxy_settings& s);
std::shared_ptr<asio::ssl::context> make_client_tls(const config::publisher_settings& s);

// Sets SNI and, for verify-full, the host name (or IP address) to check.
void prepare_client_tls(SSL* ssl, const std::string& host, config::sslmode mode);

// The most recent OpenSSL error queue entry as text (and clears the queue).
std::string openssl_error();

}  // namespace sqltap::proxy
