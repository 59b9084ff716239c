#include "admin/sources.hpp"

#include "proxy/runtime.hpp"

namespace sqltap::admin {

config::settings sources::settings() const {
    return proxy ? proxy->current()->settings : startup_settings;
}

}  // namespace sqltap::admin
