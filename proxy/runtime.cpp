#include "proxy/runtime.hpp"

#include "proxy/tls.hpp"

namespace sqltap::proxy {

std::shared_ptr<const runtime> runtime::build(const config::settings& s) {
    auto rt = std::make_shared<runtime>();
    rt->settings = s;
    if (s.proxy.tls_enabled()) rt->server_tls = make_server_tls(s.proxy);
    if (s.publisher.ssl != config::sslmode::disable) rt->client_tls = make_client_tls(s.publisher);
    if (!s.proxy.auth_file.empty()) rt->users = auth_file::load(s.proxy.auth_file);
    return rt;
}

std::uint64_t session_registry::add(closer c) {
    std::lock_guard lock(mu_);
    std::uint64_t id = next_++;
    sessions_.emplace(id, std::move(c));
    return id;
}

void session_registry::remove(std::uint64_t id) {
    std::lock_guard lock(mu_);
    sessions_.erase(id);
}

void session_registry::close_all() {
    std::map<std::uint64_t, closer> copy;
    {
        std::lock_guard lock(mu_);
        copy = sessions_;
    }
    for (auto& [id, c] : copy) c();
}

std::size_t session_registry::size() const {
    std::lock_guard lock(mu_);
    return sessions_.size();
}

}  // namespace sqltap::proxy
