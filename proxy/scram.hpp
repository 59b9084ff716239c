#pragma once
// SCRAM-SHA-256 (RFC 5802 / 7677) as PostgreSQL uses it, both roles, sans-io.
//
// Why sqltapd plays both roles: when the client and the publisher connections
// both use TLS, a relayed SCRAM exchange fails (the client binds to sqltapd's
// certificate, or sends the 'y' flag that PostgreSQL rejects on a TLS leg). With
// the user's SCRAM secret, sqltapd authenticates the client itself, recovers the
// ClientKey from the client's proof, and logs in to the publisher with it.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sqltap::proxy::scram {

using key = std::array<std::uint8_t, 32>;

struct secret {
    int iterations = 0;
    std::string salt;  // raw bytes
    key stored_key{}, server_key{};
};

// "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>" as in pg_authid.
std::optional<secret> parse_secret(std::string_view text);
secret make_secret(std::string_view password, std::string_view salt, int iterations);

std::string base64_encode(std::string_view raw);
std::optional<std::string> base64_decode(std::string_view text);
std::string random_nonce();  // 18 random bytes, base64

// Server role: authenticates a client against a secret. The client must not
// use channel binding (sqltapd offers only SCRAM-SHA-256).
class server_exchange {
public:
    explicit server_exchange(secret s) : secret_(std::move(s)) {}
    // Returns server-first-message, or nullopt with `error` set.
    std::optional<std::string> client_first(std::string_view msg, std::string& error);
    // Returns server-final-message when the proof is right; then client_key() is valid.
    std::optional<std::string> client_final(std::string_view msg, std::string& error);
    const key& client_key() const noexcept { return client_key_; }

private:
    secret secret_;
    std::string gs2_header_, client_first_bare_, server_first_, nonce_;
    key client_key_{};
};

// Client role: logs in with either a password or a recovered ClientKey.
class client_exchange {
public:
    static client_exchange with_password(std::string password);
    static client_exchange with_client_key(const key& client_key, const secret& s);

    std::string client_first();  // "n,,n=,r=<nonce>"
    std::optional<std::string> server_first(std::string_view msg, std::string& error);
    bool server_final(std::string_view msg, std::string& error);

private:
    client_exchange() = default;
    std::optional<std::string> password_;
    std::optional<secret> secret_;
    key client_key_{};
    std::string nonce_, client_first_bare_, auth_message_;
    key server_key_{};
};

}  // namespace sqltap::proxy::scram
