#pragma once
// What the admin surfaces (console, /metrics, /health) read and act on. The
// daemon fills in what it runs: in replay-only mode there is no proxy and no
// capture engine; without subscribers there is no replay engine.
#include <functional>
#include <memory>
#include <string>

#include "proxy/config.hpp"

namespace sqltap::proxy {
class shared_state;
}
namespace sqltap::capture {
class engine;
class change_log;
}  // namespace sqltap::capture
namespace sqltap::replay {
class engine;
}

namespace sqltap::admin {

struct sources {
    std::shared_ptr<proxy::shared_state> proxy;     // null: [proxy] enabled = off
    std::shared_ptr<capture::engine> capture;       // null: capture off
    capture::change_log* log = nullptr;             // null: no log (capture off, no subscribers)
    replay::engine* replay = nullptr;               // null: no subscribers
    // The configuration as read at start; settings() gives the one in force.
    config::settings startup_settings;
    // The proxy's current generation (reloads change it), else startup_settings.
    config::settings settings() const;
    // RELOAD: re-reads the configuration file; returns "" or why it was not reloaded.
    std::function<std::string()> reload;
};

}  // namespace sqltap::admin
