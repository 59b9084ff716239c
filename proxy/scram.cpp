#include "proxy/scram.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <charconv>
#include <map>
#include <stdexcept>

namespace sqltap::proxy::scram {
namespace {

key hmac(const key& k, std::string_view data) {
    key out{};
    unsigned int len = 0;
    HMAC(EVP_sha256(), k.data(), int(k.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), out.data(), &len);
    return out;
}

key sha256(const key& k) {
    key out{};
    SHA256(k.data(), k.size(), out.data());
    return out;
}

std::string_view as_view(const key& k) {
    return {reinterpret_cast<const char*>(k.data()), k.size()};
}

key salted_password(std::string_view password, std::string_view salt, int iterations) {
    key out{};
    PKCS5_PBKDF2_HMAC(password.data(), int(password.size()),
                      reinterpret_cast<const unsigned char*>(salt.data()), int(salt.size()),
                      iterations, EVP_sha256(), int(out.size()), out.data());
    return out;
}

key xor_keys(const key& a, const key& b) {
    key r{};
    for (std::size_t i = 0; i < r.size(); ++i) r[i] = a[i] ^ b[i];
    return r;
}

// "a=x,b=y" into attributes; values may contain '='.
std::map<char, std::string> attributes(std::string_view msg) {
    std::map<char, std::string> out;
    std::size_t pos = 0;
    while (pos <= msg.size()) {
        std::size_t comma = msg.find(',', pos);
        std::string_view part = msg.substr(pos, comma == std::string_view::npos ? msg.npos : comma - pos);
        if (part.size() >= 2 && part[1] == '=') out.emplace(part[0], std::string(part.substr(2)));
        if (comma == std::string_view::npos) break;
        pos = comma + 1;
    }
    return out;
}

std::optional<key> decode_key(std::string_view b64) {
    auto raw = base64_decode(b64);
    if (!raw || raw->size() != 32) return std::nullopt;
    key k{};
    std::copy(raw->begin(), raw->end(), k.begin());
    return k;
}

bool printable_nonce(std::string_view n) {
    if (n.empty()) return false;
    for (char c : n)
        if (c < 0x21 || c > 0x7e || c == ',') return false;
    return true;
}

}  // namespace

std::string base64_encode(std::string_view raw) {
    std::string out(4 * ((raw.size() + 2) / 3), '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(raw.data()), int(raw.size()));
    out.resize(std::size_t(n));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out(text.size() / 4 * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(text.data()), int(text.size()));
    if (n < 0) return std::nullopt;
    std::size_t len = std::size_t(n);
    // EVP_DecodeBlock counts padding as zero bytes.
    if (!text.empty() && text.back() == '=') --len;
    if (text.size() > 1 && text[text.size() - 2] == '=') --len;
    out.resize(len);
    return out;
}

std::string random_nonce() {
    unsigned char raw[18];
    if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("RAND_bytes failed");
    return base64_encode({reinterpret_cast<const char*>(raw), sizeof raw});
}

std::optional<secret> parse_secret(std::string_view text) {
    constexpr std::string_view prefix = "SCRAM-SHA-256$";
    if (text.substr(0, prefix.size()) != prefix) return std::nullopt;
    text.remove_prefix(prefix.size());
    auto colon = text.find(':');
    auto dollar = text.find('$');
    if (colon == text.npos || dollar == text.npos || dollar < colon) return std::nullopt;
    secret s;
    auto iters = text.substr(0, colon);
    auto r = std::from_chars(iters.data(), iters.data() + iters.size(), s.iterations);
    if (r.ec != std::errc{} || s.iterations <= 0) return std::nullopt;
    auto salt = base64_decode(text.substr(colon + 1, dollar - colon - 1));
    if (!salt) return std::nullopt;
    s.salt = *salt;
    auto keys = text.substr(dollar + 1);
    auto colon2 = keys.find(':');
    if (colon2 == keys.npos) return std::nullopt;
    auto stored = decode_key(keys.substr(0, colon2));
    auto server = decode_key(keys.substr(colon2 + 1));
    if (!stored || !server) return std::nullopt;
    s.stored_key = *stored;
    s.server_key = *server;
    return s;
}

secret make_secret(std::string_view password, std::string_view salt, int iterations) {
    secret s;
    s.iterations = iterations;
    s.salt = std::string(salt);
    key salted = salted_password(password, salt, iterations);
    s.stored_key = sha256(hmac(salted, "Client Key"));
    s.server_key = hmac(salted, "Server Key");
    return s;
}

std::optional<std::string> server_exchange::client_first(std::string_view msg, std::string& error) {
    // gs2-header: cbind-flag "," [authzid] ","
    if (msg.size() < 3 || (msg[0] != 'n' && msg[0] != 'y')) {
        error = msg.substr(0, 2) == "p=" ? "channel binding is not offered by sqltapd"
                                          : "malformed SCRAM client-first-message";
        return std::nullopt;
    }
    auto first = msg.find(',');
    auto second = first == msg.npos ? msg.npos : msg.find(',', first + 1);
    if (first != 1 || second == msg.npos) {
        error = "malformed SCRAM client-first-message";
        return std::nullopt;
    }
    if (second != first + 1) {
        error = "SCRAM authorization identities are not supported";
        return std::nullopt;
    }
    gs2_header_ = std::string(msg.substr(0, second + 1));
    client_first_bare_ = std::string(msg.substr(second + 1));
    auto attrs = attributes(client_first_bare_);
    if (!attrs.count('n') || !attrs.count('r') || !printable_nonce(attrs['r']) ||
        client_first_bare_.substr(0, 2) == "m=") {
        error = "malformed SCRAM client-first-message";
        return std::nullopt;
    }
    nonce_ = attrs['r'] + random_nonce();
    server_first_ = "r=" + nonce_ + ",s=" + base64_encode(secret_.salt) +
                    ",i=" + std::to_string(secret_.iterations);
    return server_first_;
}

std::optional<std::string> server_exchange::client_final(std::string_view msg, std::string& error) {
    auto proof_pos = msg.rfind(",p=");
    if (proof_pos == msg.npos) {
        error = "malformed SCRAM client-final-message";
        return std::nullopt;
    }
    std::string_view without_proof = msg.substr(0, proof_pos);
    auto attrs = attributes(without_proof);
    if (attrs['c'] != base64_encode(gs2_header_)) {
        error = "SCRAM channel binding check failed";
        return std::nullopt;
    }
    if (attrs['r'] != nonce_) {
        error = "SCRAM nonce mismatch";
        return std::nullopt;
    }
    auto proof = decode_key(msg.substr(proof_pos + 3));
    if (!proof) {
        error = "malformed SCRAM proof";
        return std::nullopt;
    }
    std::string auth_message = client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
    key client_signature = hmac(secret_.stored_key, auth_message);
    client_key_ = xor_keys(*proof, client_signature);
    key check = sha256(client_key_);
    if (CRYPTO_memcmp(check.data(), secret_.stored_key.data(), check.size()) != 0) {
        error = "password authentication failed";
        return std::nullopt;
    }
    key server_signature = hmac(secret_.server_key, auth_message);
    return "v=" + base64_encode(as_view(server_signature));
}

client_exchange client_exchange::with_password(std::string password) {
    client_exchange c;
    c.password_ = std::move(password);
    return c;
}

client_exchange client_exchange::with_client_key(const key& client_key, const secret& s) {
    client_exchange c;
    c.client_key_ = client_key;
    c.secret_ = s;
    return c;
}

std::string client_exchange::client_first() {
    nonce_ = random_nonce();
    client_first_bare_ = "n=,r=" + nonce_;
    return "n,," + client_first_bare_;
}

std::optional<std::string> client_exchange::server_first(std::string_view msg, std::string& error) {
    auto attrs = attributes(msg);
    const std::string& r = attrs['r'];
    auto salt = base64_decode(attrs['s']);
    int iterations = 0;
    const std::string& i = attrs['i'];
    auto parsed = std::from_chars(i.data(), i.data() + i.size(), iterations);
    if (r.size() <= nonce_.size() || r.compare(0, nonce_.size(), nonce_) != 0 || !salt ||
        parsed.ec != std::errc{} || iterations <= 0) {
        error = "malformed SCRAM server-first-message from the publisher";
        return std::nullopt;
    }
    key stored;
    if (password_) {
        key salted = salted_password(*password_, *salt, iterations);
        client_key_ = hmac(salted, "Client Key");
        stored = sha256(client_key_);
        server_key_ = hmac(salted, "Server Key");
    } else {
        if (*salt != secret_->salt || iterations != secret_->iterations) {
            error = "the SCRAM secret sqltapd holds for this user is not the publisher's "
                    "current one (the password was changed?)";
            return std::nullopt;
        }
        stored = secret_->stored_key;
        server_key_ = secret_->server_key;
    }
    std::string without_proof = "c=biws,r=" + r;  // biws = base64("n,,")
    auth_message_ = client_first_bare_ + "," + std::string(msg) + "," + without_proof;
    key proof = xor_keys(client_key_, hmac(stored, auth_message_));
    return without_proof + ",p=" + base64_encode(as_view(proof));
}

bool client_exchange::server_final(std::string_view msg, std::string& error) {
    auto attrs = attributes(msg);
    if (attrs.count('e')) {
        error = "the publisher rejected SCRAM authentication: " + attrs['e'];
        return false;
    }
    key expected = hmac(server_key_, auth_message_);
    if (attrs['v'] != base64_encode(as_view(expected))) {
        error = "the publisher's SCRAM server signature is wrong";
        return false;
    }
    return true;
}

}  // namespace sqltap::proxy::scram
