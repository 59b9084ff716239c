#include "replay/report.hpp"

#include <algorithm>
#include <cstdio>

#include "capture/dump_format.hpp"

namespace sqltap::replay {
namespace {

using capture::json_string;

capture::relation relation_of(const conflict_record& c) {
    capture::relation r;
    r.schema = c.schema;
    r.table = c.table;
    r.columns = c.columns;
    for (const auto& k : c.key_columns) {
        auto it = std::find(r.columns.begin(), r.columns.end(), k);
        r.key_columns.push_back(std::uint32_t(it - r.columns.begin()));
        if (it == r.columns.end()) r.columns.push_back(k);
    }
    return r;
}

std::string num(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

}  // namespace

std::string status_header_text() {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%-20s %-12s %12s %10s %9s %9s %9s %9s  %s\n", "subscriber", "state", "applied LSN",
                  "lag", "lag s", "txn/s", "rows/s", "conflicts", "updated");
    return buf;
}

std::string format_text(const subscriber_status& s) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "%-20s %-12s %12llu %10llu %9s %9s %9s %9llu  %s\n", s.name.c_str(),
                  std::string(to_string(s.st)).c_str(), (unsigned long long)s.applied_lsn,
                  (unsigned long long)s.lag_entries, num(s.lag_seconds).c_str(), num(s.txn_rate).c_str(),
                  num(s.row_rate).c_str(), (unsigned long long)s.conflicts, capture::iso_time(s.updated_us).c_str());
    std::string out = buf;
    if (!s.message.empty()) out += "    " + s.message + "\n";
    return out;
}

std::string format_json(const subscriber_status& s) {
    return "{\"subscriber\":" + json_string(s.name) + ",\"state\":" + json_string(to_string(s.st)) +
           ",\"message\":" + json_string(s.message) + ",\"applied_lsn\":" + std::to_string(s.applied_lsn) +
           ",\"newest_lsn\":" + std::to_string(s.end_lsn) + ",\"lag_entries\":" + std::to_string(s.lag_entries) +
           ",\"lag_seconds\":" + num(s.lag_seconds) + ",\"txn_rate\":" + num(s.txn_rate) +
           ",\"row_rate\":" + num(s.row_rate) + ",\"applied_txns\":" + std::to_string(s.applied_txns) +
           ",\"applied_rows\":" + std::to_string(s.applied_rows) + ",\"conflicts\":" + std::to_string(s.conflicts) +
           ",\"updated\":" + json_string(capture::iso_time(s.updated_us)) + "}";
}

std::string format_text(const conflict_record& c) {
    auto r = relation_of(c);
    std::string out = "conflict " + c.subscriber + " LSN " + std::to_string(c.lsn) + " change " +
                      std::to_string(c.change) + " xid " + c.xid + ": " + std::string(to_string(c.kind)) + " on " +
                      c.schema + "." + c.table + ", " + std::string(to_string(c.resolution)) + ", at " +
                      capture::iso_time(c.time_us) + "\n";
    out += "  key:" + capture::text_key(r, c.key) + "\n";
    if (c.old_row) out += "  publisher before:" + capture::text_row(r, *c.old_row) + "\n";
    if (c.new_row) out += "  publisher after: " + capture::text_row(r, *c.new_row) + "\n";
    out += c.local_row ? "  subscriber:      " + capture::text_row(r, *c.local_row) + "\n" : "  subscriber:       (no row)\n";
    return out;
}

std::string format_json(const conflict_record& c) {
    auto r = relation_of(c);
    auto rows = [&](const std::optional<std::vector<value>>& v) { return v ? capture::json_row(r, *v) : "null"; };
    return "{\"subscriber\":" + json_string(c.subscriber) + ",\"lsn\":" + std::to_string(c.lsn) +
           ",\"change\":" + std::to_string(c.change) + ",\"xid\":" + json_string(c.xid) +
           ",\"commit_time\":" + json_string(capture::iso_time(c.commit_time_us)) +
           ",\"schema\":" + json_string(c.schema) + ",\"table\":" + json_string(c.table) +
           ",\"kind\":" + json_string(to_string(c.kind)) + ",\"resolution\":" + json_string(to_string(c.resolution)) +
           ",\"key\":" + capture::json_key(r, c.key) + ",\"old\":" + rows(c.old_row) + ",\"new\":" + rows(c.new_row) +
           ",\"local\":" + rows(c.local_row) + ",\"time\":" + json_string(capture::iso_time(c.time_us)) + "}";
}

}  // namespace sqltap::replay
