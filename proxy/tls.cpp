#include "proxy/tls.hpp"

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <stdexcept>

namespace sqltap::proxy {

std::string openssl_error() {
    unsigned long e = ERR_get_error();
    std::string last;
    while (e != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        last = buf;
        e = ERR_get_error();
    }
    return last.empty() ? "unknown TLS error" : last;
}

namespace {

void load_pfx(SSL_CTX* ctx, const std::string& path, const std::string& password) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw std::runtime_error("cannot open tls_pfx_file " + path);
    PKCS12* p12 = d2i_PKCS12_fp(f, nullptr);
    std::fclose(f);
    if (!p12) throw std::runtime_error("tls_pfx_file " + path + " is not PKCS#12: " + openssl_error());
    EVP_PKEY* key = nullptr;
    X509* cert = nullptr;
    STACK_OF(X509)* chain = nullptr;
    int ok = PKCS12_parse(p12, password.c_str(), &key, &cert, &chain);
    PKCS12_free(p12);
    if (!ok || !cert || !key) {
        EVP_PKEY_free(key);
        X509_free(cert);
        sk_X509_pop_free(chain, X509_free);
        throw std::runtime_error("cannot read tls_pfx_file " + path +
                                 " (wrong tls_pfx_password?): " + openssl_error());
    }
    bool good = SSL_CTX_use_certificate(ctx, cert) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1;
    for (int i = 0; good && chain && i < sk_X509_num(chain); ++i) {
        X509* c = sk_X509_value(chain, i);
        // add1 takes its own reference, so the stack can be freed below.
        good = SSL_CTX_add1_chain_cert(ctx, c) == 1;
    }
    EVP_PKEY_free(key);
    X509_free(cert);
    sk_X509_pop_free(chain, X509_free);
    if (!good) throw std::runtime_error("cannot use tls_pfx_file " + path + ": " + openssl_error());
}

}  // namespace

std::shared_ptr<asio::ssl::context> make_server_tls(const config::proxy_settings& s) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (!s.tls_pfx_file.empty()) {
        load_pfx(native, s.tls_pfx_file, s.tls_pfx_password);
    } else {
        if (SSL_CTX_use_certificate_chain_file(native, s.tls_cert_file.c_str()) != 1)
            throw std::runtime_error("cannot load tls_cert_file " + s.tls_cert_file + ": " +
                                     openssl_error());
        if (SSL_CTX_use_PrivateKey_file(native, s.tls_key_file.c_str(), SSL_FILETYPE_PEM) != 1)
            throw std::runtime_error("cannot load tls_key_file " + s.tls_key_file + ": " +
                                     openssl_error());
    }
    if (SSL_CTX_check_private_key(native) != 1)
        throw std::runtime_error("the TLS private key does not match the certificate: " +
                                 openssl_error());
    return ctx;
}

std::shared_ptr<asio::ssl::context> make_client_tls(const config::publisher_settings& s) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (s.ssl == config::sslmode::verify_ca || s.ssl == config::sslmode::verify_full) {
        if (!s.sslrootcert.empty()) {
            if (SSL_CTX_load_verify_locations(native, s.sslrootcert.c_str(), nullptr) != 1)
                throw std::runtime_error("cannot load [publisher] sslrootcert " + s.sslrootcert +
                                         ": " + openssl_error());
        } else {
            SSL_CTX_set_default_verify_paths(native);
        }
        SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
    } else {
        SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
    }
    return ctx;
}

void prepare_client_tls(SSL* ssl, const std::string& host, config::sslmode mode) {
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    bool is_ip = !ec;
    if (!is_ip) SSL_set_tlsext_host_name(ssl, host.c_str());
    if (mode == config::sslmode::verify_full) {
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        if (is_ip) X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
        else SSL_set1_host(ssl, host.c_str());
    }
}

}  // namespace sqltap::proxy
