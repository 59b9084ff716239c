#pragma once
// Maps the BackendKeyData sqltapd gives each client to the publisher's real
// one. The client keeps the server's process id (so pg_backend_pid() and the
// pid in NotificationResponse still agree with what it was told) but gets a
// secret key from a CSPRNG; a CancelRequest is honoured only when pid and
// key match a live session, and is forwarded on a new connection.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace sqltap::proxy {

struct cancel_target {
    std::int32_t server_pid = 0;
    std::int32_t server_key = 0;
    std::string host;  // the publisher this session is connected to
    std::uint16_t port = 0;
};

class cancel_map {
public:
    struct client_key {
        std::int32_t pid, key;
        auto operator<=>(const client_key&) const = default;
    };

    // Registers a session; returns the key data to hand to the client.
    client_key add(const cancel_target& t);
    void remove(const client_key& k);
    std::optional<cancel_target> find(const client_key& k) const;
    std::size_t size() const;

private:
    mutable std::mutex mu_;
    std::map<client_key, cancel_target> map_;
};

}  // namespace sqltap::proxy
