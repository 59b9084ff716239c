#pragma once
// /metrics in the Prometheus text exposition format (version 0.0.4), and
// /health.
#include <string>

#include "admin/sources.hpp"

namespace sqltap::admin {

std::string prometheus_text(const sources& src);

// ok: sqltapd serves (proxy up, log readable); subscribers are reported, as
// they may be offline for days without sqltapd being unwell.
struct health {
    bool ok = true;
    std::string text;  // one line per part: "proxy: ok", "subscriber s1: offline: …"
};
health check_health(const sources& src);

}  // namespace sqltap::admin
