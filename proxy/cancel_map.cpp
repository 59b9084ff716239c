#include "proxy/cancel_map.hpp"

#include <openssl/rand.h>

#include <stdexcept>

namespace sqltap::proxy {

cancel_map::client_key cancel_map::add(const cancel_target& t) {
    std::lock_guard lock(mu_);
    for (;;) {
        std::int32_t key;
        if (RAND_bytes(reinterpret_cast<unsigned char*>(&key), sizeof key) != 1)
            throw std::runtime_error("RAND_bytes failed");
        client_key k{t.server_pid, key};
        if (map_.try_emplace(k, t).second) return k;
    }
}

void cancel_map::remove(const client_key& k) {
    std::lock_guard lock(mu_);
    map_.erase(k);
}

std::optional<cancel_target> cancel_map::find(const client_key& k) const {
    std::lock_guard lock(mu_);
    auto it = map_.find(k);
    if (it == map_.end()) return std::nullopt;
    return it->second;
}

std::size_t cancel_map::size() const {
    std::lock_guard lock(mu_);
    return map_.size();
}

}  // namespace sqltap::proxy
