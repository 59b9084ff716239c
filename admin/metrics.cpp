#include "admin/metrics.hpp"

#include <cstdio>

#include "capture/change_log.hpp"
#include "capture/engine.hpp"
#include "proxy/runtime.hpp"
#include "replay/engine.hpp"
#include "sqltap_version.hpp"

namespace sqltap::admin {
namespace {

// Label values escape '\', '"' and newlines.
std::string label(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\', out += c;
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string number(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

class writer {
public:
    // One metric family: HELP and TYPE lines, then its samples.
    void family(std::string_view name, std::string_view type, std::string_view help) {
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        out_ += help;
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
    }
    void sample(std::string_view name, double v, std::string_view labels = {}) {
        out_ += name;
        if (!labels.empty()) {
            out_ += '{';
            out_ += labels;
            out_ += '}';
        }
        out_ += ' ';
        out_ += number(v);
        out_ += '\n';
    }
    void one(std::string_view name, std::string_view type, std::string_view help, double v) {
        family(name, type, help);
        sample(name, v);
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

}  // namespace

std::string prometheus_text(const sources& src) {
    writer w;
    w.family("sqltap_info", "gauge", "sqltapd's version and mode (always 1).");
    w.sample("sqltap_info", 1,
             std::string("version=\"") + SQLTAP_VERSION + "\",proxy=\"" + (src.proxy ? "on" : "off") +
                 "\",capture=\"" + (src.capture ? "on" : "off") + "\"");
    if (src.proxy) {
        const auto& c = src.proxy->stats;
        w.one("sqltap_sessions_active", "gauge", "Client sessions open now.", double(c.sessions_active.load()));
        w.one("sqltap_sessions_total", "counter", "Client connections accepted.", double(c.sessions_total.load()));
        w.one("sqltap_queries_total", "counter", "Query and Execute messages received from clients.",
              double(c.queries.load()));
        w.one("sqltap_client_received_bytes_total", "counter", "Bytes received from clients.",
              double(c.bytes_from_clients.load()));
        w.one("sqltap_publisher_received_bytes_total", "counter", "Bytes received from the publisher.",
              double(c.bytes_from_publisher.load()));
        w.one("sqltap_protocol_errors_total", "counter", "Sessions ended by invalid protocol messages.",
              double(c.protocol_errors.load()));
        w.one("sqltap_cancels_forwarded_total", "counter", "Cancel requests forwarded to the publisher.",
              double(c.cancels_forwarded.load()));
    }
    if (src.capture) {
        auto& c = src.capture->counters();
        w.one("sqltap_captured_transactions_total", "counter", "Committed transactions appended to the change log.",
              double(c.transactions.load()));
        w.one("sqltap_captured_rows_total", "counter", "Row changes (and DDL, TRUNCATE) appended to the change log.",
              double(c.changes.load()));
        w.one("sqltap_uncaptured_rejections_total", "counter",
              "Transactions rolled back because they wrote a captured table uncapturably (uncaptured = reject).",
              double(c.rejected_uncaptured.load()));
        w.one("sqltap_uncaptured_flagged_total", "counter",
              "Transactions committed with a resync-needed record (uncaptured = log).",
              double(c.flagged_uncaptured.load()));
        w.one("sqltap_log_append_failures_total", "counter",
              "Transactions refused because the change log could not take them.", double(c.log_failures.load()));
        w.one("sqltap_log_lost_transactions_total", "counter",
              "durability = async: transactions committed whose entry the change log could not take (their tables "
              "got resync records).",
              double(c.lost_transactions.load()));
        w.one("sqltap_prepared_writes_total", "counter",
              "Captured writes of simple Queries run as EXECUTE of sqltapd's prepared statements.",
              double(c.prepared_writes.load()));
        w.one("sqltap_prepared_write_shortcuts_total", "counter",
              "Of those, the ones known by their text but for numbers (not analysed or rewritten again).",
              double(c.prepared_shortcuts.load()));
    }
    if (src.log) {
        auto st = src.log->stats();
        w.one("sqltap_log_size_bytes", "gauge", "Size of the change log's data file on disk.", double(st.file_bytes));
        w.one("sqltap_log_data_bytes", "gauge", "Bytes of the change log's pages holding entries now.",
              double(st.data_bytes));
        w.one("sqltap_log_map_bytes", "gauge", "The change log's map size (its largest size).", double(st.map_bytes));
        w.one("sqltap_log_entries", "gauge", "Committed transactions held in the change log.", double(st.entries));
        w.one("sqltap_log_oldest_lsn", "gauge", "Oldest LSN held in the change log (0: empty).", double(st.oldest_lsn));
        w.one("sqltap_log_newest_lsn", "gauge", "Newest committed LSN in the change log (0: empty).",
              double(st.newest_lsn));
        w.one("sqltap_log_in_doubt", "gauge", "Entries whose transaction's outcome is not known yet.",
              double(st.in_doubt));
    }
    if (src.replay) {
        auto subs = src.replay->statuses();
        auto each = [&](std::string_view name, std::string_view type, std::string_view help, auto get) {
            w.family(name, type, help);
            for (const auto& s : subs) w.sample(name, double(get(s)), "subscriber=\"" + label(s.name) + "\"");
        };
        using st = replay::subscriber_status;
        each("sqltap_subscriber_applied_lsn", "gauge", "Last LSN applied to the subscriber.",
             [](const st& s) { return s.applied_lsn; });
        each("sqltap_subscriber_lag_entries", "gauge", "Log positions between the applied LSN and the newest.",
             [](const st& s) { return s.lag_entries; });
        each("sqltap_subscriber_lag_seconds", "gauge", "Age of the oldest entry not yet applied.",
             [](const st& s) { return s.lag_seconds; });
        each("sqltap_subscriber_apply_rate_transactions", "gauge", "Transactions applied per second, recently.",
             [](const st& s) { return s.txn_rate; });
        each("sqltap_subscriber_apply_rate_rows", "gauge", "Rows applied per second, recently.",
             [](const st& s) { return s.row_rate; });
        each("sqltap_subscriber_applied_transactions_total", "counter",
             "Transactions applied since sqltapd started.", [](const st& s) { return s.applied_txns; });
        each("sqltap_subscriber_applied_rows_total", "counter", "Rows applied since sqltapd started.",
             [](const st& s) { return s.applied_rows; });
        each("sqltap_subscriber_conflicts_total", "counter", "Conflicts recorded for the subscriber.",
             [](const st& s) { return s.conflicts; });
        w.family("sqltap_subscriber_state", "gauge", "The subscriber's state (1 for the current one).");
        for (const auto& s : subs)
            for (auto x : {replay::state::starting, replay::state::streaming, replay::state::catching_up,
                           replay::state::offline, replay::state::error, replay::state::stale, replay::state::paused,
                           replay::state::syncing})
                w.sample("sqltap_subscriber_state", s.st == x ? 1 : 0,
                         "subscriber=\"" + label(s.name) + "\",state=\"" + std::string(replay::to_string(x)) + "\"");
    }
    return w.take();
}

health check_health(const sources& src) {
    health h;
    auto line = [&](std::string s) { h.text += s + "\n"; };
    line(src.proxy ? "proxy: ok" : "proxy: off");
    if (src.capture) {
        try {
            auto st = src.log->stats();
            line("capture: ok, log newest LSN " + std::to_string(st.newest_lsn));
        } catch (const std::exception& e) {
            h.ok = false;
            line(std::string("capture: the log cannot be read: ") + e.what());
        }
    }
    if (src.replay) {
        for (const auto& s : src.replay->statuses()) {
            // Shown, but not a failure of sqltapd: subscribers may be away for days.
            line("subscriber " + s.name + ": " + std::string(replay::to_string(s.st)) +
                 (s.message.empty() ? "" : ": " + s.message));
        }
    }
    return h;
}

}  // namespace sqltap::admin
