#pragma once
// The admin console's commands (pgbouncer style), answered from what
// sqltapd runs:
//   SHOW SESSIONS | SUBSCRIBERS | LOG | CONFIG | STATS | HELP
//   PAUSE SUBSCRIBER name | RESUME SUBSCRIBER name | RELOAD
#include <string>

#include "admin/sources.hpp"
#include "proxy/runtime.hpp"

namespace sqltap::admin {

proxy::console_answer answer(const sources& src, const std::string& sql);

}  // namespace sqltap::admin
