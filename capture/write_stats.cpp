#include "capture/write_stats.hpp"

#include <algorithm>
#include <charconv>

namespace sqltap::capture {

namespace {
// Every user table (oid >= 16384, FirstNormalObjectId) of kind r or p, under
// its root table when it is a partition, with its write counters (columns
// oid, i, u, d); OFFSET 0 keeps the planner from evaluating them twice.
constexpr std::string_view counters =
    "SELECT CASE WHEN c0.relispartition THEN pg_catalog.pg_partition_root(c0.oid)::oid ELSE c0.oid END AS oid, "
    "pg_catalog.pg_stat_get_xact_tuples_inserted(c0.oid) AS i, "
    "pg_catalog.pg_stat_get_xact_tuples_updated(c0.oid) AS u, "
    "pg_catalog.pg_stat_get_xact_tuples_deleted(c0.oid) AS d "
    "FROM pg_catalog.pg_class c0 WHERE c0.oid >= 16384 AND c0.relkind IN ('r', 'p') OFFSET 0";
}  // namespace

const std::string& stats_query() {
    // The names only for written tables. sqltapd prepares it once per
    // connection (session_capture).
    static const std::string q = "SELECT t.oid::text, n.nspname::text, c.relname::text, t.i::text, t.u::text, "
                                 "t.d::text FROM (" + std::string(counters) + ") t "
                                 "JOIN pg_catalog.pg_class c ON c.oid = t.oid "
                                 "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                                 "WHERE t.i + t.u + t.d > 0";
    return q;
}

const std::string& check_query() {
    static const std::string q = "SELECT x.xid, s.* FROM (SELECT pg_catalog.pg_current_xact_id()::text AS xid) x "
                                 "LEFT JOIN (" + stats_query() + ") s ON true";
    return q;
}

std::string verify_query(const table_filter& filter) {
    auto made = [](const char* n, const char* what, const char* e) {
        return std::string("CASE WHEN d.") + n + " > d." + e + " THEN d." + n + " || ' " + what + " made, ' || d." + e +
               " || ' captured' END";
    };
    return "SELECT CASE WHEN v.bad IS NOT NULL THEN ('" + std::string(verify_marker) +
           "' || v.bad)::int END FROM (SELECT string_agg(n.nspname || '.' || c.relname || ' (' || concat_ws(', ', " +
           made("i", "inserts", "ei") + ", " + made("u", "updates", "eu") + ", " + made("d", "deletes", "ed") +
           ") || ')', '; ') AS bad FROM (SELECT t.oid, sum(t.i) AS i, sum(t.u) AS u, sum(t.d) AS d FROM (" +
           std::string(counters) + ") t WHERE t.i + t.u + t.d > 0 GROUP BY t.oid) s "
           "JOIN pg_catalog.pg_class c ON c.oid = s.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
           "LEFT JOIN unnest($1::oid[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::int8[], $7::int8[]) "
           "AS a(oid, bi, bu, bd, ei, eu, ed) ON a.oid = s.oid "
           "CROSS JOIN LATERAL (SELECT greatest(s.i - coalesce(a.bi, 0), 0) AS i, greatest(s.u - coalesce(a.bu, 0), 0) "
           "AS u, greatest(s.d - coalesce(a.bd, 0), 0) AS d, coalesce(a.ei, 0) AS ei, coalesce(a.eu, 0) AS eu, "
           "coalesce(a.ed, 0) AS ed) d "
           "WHERE s.oid <> ALL ($8::oid[]) AND " + filter.sql_condition("n.nspname::text", "c.relname::text") +
           " AND (d.i > d.ei OR d.u > d.eu OR d.d > d.ed)) v";
}

std::optional<std::string> verify_failure(std::string_view message) {
    // invalid input syntax for type integer: "sqltap uncaptured: …"
    auto at = message.find(verify_marker);
    if (at == std::string_view::npos) return std::nullopt;
    std::string_view rest = message.substr(at + verify_marker.size());
    if (!rest.empty() && rest.back() == '"') rest.remove_suffix(1);
    return std::string(rest);
}

namespace {
template <class T>
bool number(const std::optional<std::string>& v, T& out) {
    if (!v) return false;
    auto r = std::from_chars(v->data(), v->data() + v->size(), out);
    return r.ec == std::errc{} && r.ptr == v->data() + v->size();
}
std::uint64_t minus(std::uint64_t a, std::uint64_t b) { return a > b ? a - b : 0; }
}  // namespace

bool add_stats_row(stats_snapshot& s, const std::vector<std::optional<std::string>>& row) {
    if (row.size() != 6 || !row[1] || !row[2]) return false;
    std::uint32_t oid = 0;
    write_counts n;
    if (!number(row[0], oid) || !number(row[3], n.inserted) || !number(row[4], n.updated) ||
        !number(row[5], n.deleted))
        return false;
    // Partitions of one root come as several rows of the root: add them up.
    table_counts& t = s[oid];
    t.schema = *row[1];
    t.name = *row[2];
    t.n.inserted += n.inserted;
    t.n.updated += n.updated;
    t.n.deleted += n.deleted;
    return true;
}

std::string uncaptured_write::describe() const {
    if (name.empty()) return "(a savepoint whose write counts sqltapd could not take)";
    std::string out = schema + "." + name + " (";
    auto part = [&](const char* what, std::uint64_t counted_n, std::uint64_t captured_n) {
        if (counted_n == captured_n) return;
        if (out.back() != '(') out += ", ";
        out += std::to_string(counted_n) + " " + what + " made, " + std::to_string(captured_n) + " captured";
    };
    part("inserts", counted.inserted, captured.inserted);
    part("updates", counted.updated, captured.updated);
    part("deletes", counted.deleted, captured.deleted);
    return out + ")";
}

std::vector<uncaptured_write> find_uncaptured(const stats_snapshot& before, const stats_snapshot& after,
                                              const expected_counts& captured, const table_filter& filter,
                                              const std::vector<std::uint32_t>& skip) {
    std::vector<uncaptured_write> out;
    for (const auto& [oid, now] : after) {
        if (std::find(skip.begin(), skip.end(), oid) != skip.end()) continue;
        if (!filter.captures(now.schema, now.name)) continue;
        write_counts delta = now.n;
        if (auto b = before.find(oid); b != before.end()) {
            delta.inserted = minus(now.n.inserted, b->second.n.inserted);
            delta.updated = minus(now.n.updated, b->second.n.updated);
            delta.deleted = minus(now.n.deleted, b->second.n.deleted);
        }
        write_counts want;
        if (auto e = captured.find(oid); e != captured.end()) want = e->second;
        // More rows written than captured: some write was not seen. Fewer
        // (counting off, a TRUNCATE restarting the counters) hides nothing.
        if (delta.inserted <= want.inserted && delta.updated <= want.updated && delta.deleted <= want.deleted)
            continue;
        out.push_back({oid, now.schema, now.name, delta, want});
    }
    return out;
}

}  // namespace sqltap::capture
