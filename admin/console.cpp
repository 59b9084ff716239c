#include "admin/console.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <sstream>

#include "capture/change_log.hpp"
#include "capture/engine.hpp"
#include "replay/engine.hpp"

namespace sqltap::admin {
namespace {

using proxy::console_answer;
using cell = std::optional<std::string>;

std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
    return s;
}

std::vector<std::string> words(const std::string& sql) {
    std::vector<std::string> w;
    std::istringstream in(sql);
    std::string x;
    while (in >> x) w.push_back(x);
    return w;
}

std::string iso_time(std::chrono::system_clock::time_point t) {
    std::time_t s = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&s, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

console_answer error(std::string code, std::string message) {
    console_answer a;
    a.error_code = std::move(code);
    a.error = std::move(message);
    return a;
}

console_answer table(std::vector<std::string> columns, std::vector<std::vector<cell>> rows, std::string tag) {
    console_answer a;
    a.columns = std::move(columns);
    a.rows = std::move(rows);
    a.tag = std::move(tag);
    return a;
}

console_answer show_sessions(const sources& src) {
    std::vector<std::vector<cell>> rows;
    if (src.proxy) {
        auto now = std::chrono::system_clock::now();
        for (const auto& r : src.proxy->sessions.rows()) {
            double age = std::chrono::duration<double>(now - r.connected).count();
            rows.push_back({std::to_string(r.id), r.client, r.user, r.database, r.application_name, r.state,
                            r.tls ? "on" : "off", iso_time(r.connected), fixed(age, 1), std::to_string(r.queries),
                            std::to_string(r.bytes_in), std::to_string(r.bytes_out)});
        }
    }
    return table({"id", "client", "user", "database", "application_name", "state", "tls", "connected",
                  "seconds", "queries", "bytes_in", "bytes_out"},
                 std::move(rows), "SHOW");
}

console_answer show_subscribers(const sources& src) {
    std::vector<std::vector<cell>> rows;
    if (src.replay) {
        for (const auto& s : src.replay->statuses())
            rows.push_back({s.name, std::string(replay::to_string(s.st)), std::to_string(s.applied_lsn),
                            std::to_string(s.end_lsn), std::to_string(s.lag_entries), fixed(s.lag_seconds, 3),
                            fixed(s.txn_rate, 1), fixed(s.row_rate, 1), std::to_string(s.applied_txns),
                            std::to_string(s.applied_rows), std::to_string(s.conflicts),
                            s.message.empty() ? cell{} : cell{s.message}});
    }
    return table({"name", "state", "applied_lsn", "newest_lsn", "lag_entries", "lag_seconds", "txn_per_sec",
                  "rows_per_sec", "applied_txns", "applied_rows", "conflicts", "message"},
                 std::move(rows), "SHOW");
}

console_answer show_log(const sources& src) {
    std::vector<std::vector<cell>> rows;
    auto add = [&](std::string k, std::string v) { rows.push_back({std::move(k), std::move(v)}); };
    config::settings s = src.settings();
    if (!src.log) {
        add("state", "no log: capture is off and there are no subscribers");
        return table({"key", "value"}, std::move(rows), "SHOW");
    }
    auto st = src.log->stats();
    add("directory", s.capture.log_dir);
    add("log_id", src.log->log_id());
    add("durability", s.capture.strict ? "strict" : "async");
    add("capturing", src.capture ? "on" : "off");
    add("entries", std::to_string(st.entries));
    add("oldest_lsn", std::to_string(st.oldest_lsn));
    add("newest_lsn", std::to_string(st.newest_lsn));
    add("purged_below", std::to_string(src.log->purged_below()));
    add("in_doubt", std::to_string(st.in_doubt));
    add("file_bytes", std::to_string(st.file_bytes));
    add("used_bytes", std::to_string(st.used_bytes));
    add("data_bytes", std::to_string(st.data_bytes));
    add("map_bytes", std::to_string(st.map_bytes));
    add("max_log_size", std::to_string(s.capture.max_log_size));
    return table({"key", "value"}, std::move(rows), "SHOW");
}

console_answer show_config(const sources& src) {
    config::settings s = src.settings();
    std::vector<std::vector<cell>> rows;
    auto shown = [](const config::key_spec& k, const std::string& v) -> std::string {
        return k.type == config::value_type::secret && !v.empty() ? "********" : v;
    };
    for (const auto& k : config::schema()) {
        if (k.section == "subscriber" || k.section == "table") continue;
        std::string value(k.default_value);
        int line = 0;
        for (const auto& fv : s.file_values)
            if (fv.section == k.section && fv.key == k.key) value = fv.value, line = fv.line;
        rows.push_back({std::string(k.section), std::string(k.key), shown(k, value), std::string(k.default_value),
                        k.reloadable ? "yes" : "no", line ? cell{s.path + ":" + std::to_string(line)} : cell{}});
    }
    // [subscriber.NAME] and [table SCHEMA.TABLE]: what the file says.
    for (const auto& fv : s.file_values) {
        bool sub = fv.section.rfind("subscriber.", 0) == 0, tab = fv.section.rfind("table ", 0) == 0;
        if (!sub && !tab) continue;
        std::string key = fv.key.rfind("conflict.", 0) == 0 ? "conflict" : fv.key;
        const config::key_spec* k = config::find_key(sub ? "subscriber" : "table", key);
        if (!k) continue;
        rows.push_back({fv.section, fv.key, shown(*k, fv.value), std::string(k->default_value),
                        k->reloadable ? "yes" : "no", cell{s.path + ":" + std::to_string(fv.line)}});
    }
    return table({"section", "key", "value", "default", "reloadable", "set_at"}, std::move(rows), "SHOW");
}

console_answer show_stats(const sources& src) {
    std::vector<std::vector<cell>> rows;
    auto add = [&](std::string k, std::uint64_t v) { rows.push_back({std::move(k), std::to_string(v)}); };
    if (src.proxy) {
        const auto& c = src.proxy->stats;
        add("sessions_active", c.sessions_active.load());
        add("sessions_total", c.sessions_total.load());
        add("queries", c.queries.load());
        add("bytes_from_clients", c.bytes_from_clients.load());
        add("bytes_from_publisher", c.bytes_from_publisher.load());
        add("protocol_errors", c.protocol_errors.load());
        add("cancels_forwarded", c.cancels_forwarded.load());
    }
    if (src.capture) {
        auto& c = src.capture->counters();
        add("captured_transactions", c.transactions.load());
        add("captured_rows", c.changes.load());
        add("uncaptured_rejected", c.rejected_uncaptured.load());
        add("uncaptured_flagged", c.flagged_uncaptured.load());
        add("log_append_failures", c.log_failures.load());
        add("log_lost_transactions", c.lost_transactions.load());
        add("catalog_failures", c.catalog_failures.load());
        add("writes_prepared", c.prepared_writes.load());
        add("writes_prepared_shortcut", c.prepared_shortcuts.load());
    }
    if (src.replay) {
        std::uint64_t txns = 0, rows_applied = 0, conflicts = 0;
        for (const auto& s : src.replay->statuses())
            txns += s.applied_txns, rows_applied += s.applied_rows, conflicts += s.conflicts;
        add("applied_transactions", txns);
        add("applied_rows", rows_applied);
        add("conflicts", conflicts);
    }
    return table({"stat", "value"}, std::move(rows), "SHOW");
}

console_answer help() {
    std::vector<std::vector<cell>> rows;
    for (const char* c : {"SHOW SESSIONS", "SHOW SUBSCRIBERS", "SHOW LOG", "SHOW CONFIG", "SHOW STATS", "SHOW HELP",
                          "PAUSE SUBSCRIBER name", "RESUME SUBSCRIBER name", "RELOAD"})
        rows.push_back({std::string(c)});
    return table({"command"}, std::move(rows), "SHOW");
}

console_answer pause_resume(const sources& src, bool pause, const std::string& name) {
    if (!src.replay) return error("42704", "there are no subscribers");
    bool ok = pause ? src.replay->pause(name) : src.replay->resume(name);
    if (!ok) {
        std::string known;
        for (const auto& s : src.replay->statuses()) known += (known.empty() ? "" : ", ") + s.name;
        return error("42704", "no subscriber \"" + name + "\" (there are: " + known + ")");
    }
    console_answer a;
    a.tag = pause ? "PAUSE" : "RESUME";
    return a;
}

}  // namespace

proxy::console_answer answer(const sources& src, const std::string& sql) {
    auto w = words(sql);
    std::vector<std::string> u;
    for (const auto& x : w) u.push_back(upper(x));
    try {
        if (u.size() == 2 && u[0] == "SHOW") {
            if (u[1] == "SESSIONS") return show_sessions(src);
            if (u[1] == "SUBSCRIBERS") return show_subscribers(src);
            if (u[1] == "LOG") return show_log(src);
            if (u[1] == "CONFIG") return show_config(src);
            if (u[1] == "STATS") return show_stats(src);
            if (u[1] == "HELP") return help();
        }
        if (u.size() == 1 && u[0] == "HELP") return help();
        if (u.size() == 3 && (u[0] == "PAUSE" || u[0] == "RESUME") && u[1] == "SUBSCRIBER") {
            std::string name = w[2];
            if (name.size() >= 2 && name.front() == '"' && name.back() == '"') name = name.substr(1, name.size() - 2);
            return pause_resume(src, u[0] == "PAUSE", name);
        }
        if (u.size() == 1 && u[0] == "RELOAD") {
            if (!src.reload) return error("0A000", "RELOAD is not available in this mode (restart sqltapd)");
            std::string why = src.reload();
            if (!why.empty()) return error("F0000", why);
            console_answer a;
            a.tag = "RELOAD";
            return a;
        }
    } catch (const std::exception& e) {
        return error("XX000", e.what());
    }
    return error("42601", "unknown console command: " + sql + " (SHOW HELP lists them)");
}

}  // namespace sqltap::admin
