#include "replay/progress.hpp"

#include <algorithm>

#include "replay/state.hpp"
#include "replay/statements.hpp"

namespace sqltap::replay {
void setup_subscriber(pg::connection& c) {
    for (const auto& sql : setup_sql()) {
        // Two appliers creating the same objects at once may collide; the second try finds them.
        auto r = c.try_exec(sql);
        if (!r.ok() && r.sqlstate() != "23505" && r.sqlstate() != "XX000" && r.sqlstate() != "42P07" &&
            r.sqlstate() != "42701") {
            throw pg::error("cannot create sqltap's progress table on the subscriber: " + r.message(), r.sqlstate());
        }
    }
}

progress_row read_progress_row(pg::connection& c, const std::string& subscriber, const std::string& log_id) {
    c.exec("INSERT INTO sqltap.progress (subscriber, log_id, applied_lsn) VALUES ($1, $2, 0) "
           "ON CONFLICT (subscriber) DO NOTHING",
           {subscriber, log_id});
    auto r = c.exec("SELECT log_id, applied_lsn, epoch, syncing, coalesce(sync_snapshot, '') "
                    "FROM sqltap.progress WHERE subscriber = $1",
                    {subscriber});
    if (r.rows() != 1) throw pg::error("the subscriber's progress row for " + subscriber + " cannot be read");
    progress_row p;
    p.log_id = r.text(0, 0);
    p.applied_lsn = std::stoull(r.text(0, 1));
    p.epoch = std::stoll(r.text(0, 2));
    p.syncing = r.text(0, 3) == "t";
    p.sync_snapshot = r.text(0, 4);
    return p;
}

std::optional<snapshot> snapshot::parse(std::string_view text) {
    snapshot s;
    auto c1 = text.find(':');
    if (c1 == std::string_view::npos) return std::nullopt;
    auto c2 = text.find(':', c1 + 1);
    if (c2 == std::string_view::npos) return std::nullopt;
    if (!parse_u64(text.substr(0, c1), s.xmin_) || !parse_u64(text.substr(c1 + 1, c2 - c1 - 1), s.xmax_)) return std::nullopt;
    std::string_view rest = text.substr(c2 + 1);
    while (!rest.empty()) {
        auto comma = rest.find(',');
        std::uint64_t x = 0;
        if (!parse_u64(rest.substr(0, comma), x)) return std::nullopt;
        s.xip_.push_back(x);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    std::sort(s.xip_.begin(), s.xip_.end());
    return s;
}

bool snapshot::visible(std::string_view xid) const {
    std::uint64_t x = 0;
    if (!parse_u64(xid, x) || x < 3) return false;  // 0-2: not a transaction's own id
    if (x < xmin_) return true;
    if (x >= xmax_) return false;
    return !std::binary_search(xip_.begin(), xip_.end(), x);
}

}  // namespace sqltap::replay
