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

session_view::row session_view::read(std::uint64_t id) const {
    row r;
    r.id = id;
    r.client = client_;
    r.connected = connected_;
    r.bytes_in = bytes_in.load(std::memory_order_relaxed);
    r.bytes_out = bytes_out.load(std::memory_order_relaxed);
    r.queries = queries.load(std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    r.user = user_, r.database = database_, r.application_name = application_name_, r.state = state_;
    r.tls = tls_;
    return r;
}

std::uint64_t session_registry::add(closer c, std::shared_ptr<const session_view> view) {
    std::lock_guard lock(mu_);
    std::uint64_t id = next_++;
    sessions_.emplace(id, entry{std::move(c), std::move(view)});
    return id;
}

std::vector<session_view::row> session_registry::rows() const {
    std::vector<std::pair<std::uint64_t, std::shared_ptr<const session_view>>> views;
    {
        std::lock_guard lock(mu_);
        for (const auto& [id, e] : sessions_)
            if (e.view) views.emplace_back(id, e.view);
    }
    std::vector<session_view::row> out;
    for (const auto& [id, v] : views) out.push_back(v->read(id));
    return out;
}

void session_registry::remove(std::uint64_t id) {
    std::lock_guard lock(mu_);
    sessions_.erase(id);
}

void session_registry::close_all() {
    std::vector<closer> copy;
    {
        std::lock_guard lock(mu_);
        for (const auto& [id, e] : sessions_) copy.push_back(e.close);
    }
    for (auto& c : copy) c();
}

std::size_t session_registry::size() const {
    std::lock_guard lock(mu_);
    return sessions_.size();
}

}  // namespace sqltap::proxy
