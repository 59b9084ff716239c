#include "replay/state.hpp"

#include <algorithm>
#include <charconv>
#include <future>

#include "capture/change_log.hpp"
#include "capture/codec.hpp"
#include "capture/table_filter.hpp"

namespace sqltap::replay {
namespace {

constexpr std::uint8_t status_version = 1, conflict_version = 1;

void put_rows(capture::codec::writer& w, const std::optional<std::vector<value>>& r) {
    w.u8(r ? 1 : 0);
    if (r) w.values(*r);
}

std::optional<std::vector<value>> get_rows(capture::codec::reader& r) {
    if (!r.u8()) return std::nullopt;
    return r.values();
}

void put_strings(capture::codec::writer& w, const std::vector<std::string>& v) {
    w.varint(v.size());
    for (const auto& s : v) w.str(s);
}

std::vector<std::string> get_strings(capture::codec::reader& r) {
    std::vector<std::string> v;
    auto n = r.count();
    for (std::uint64_t i = 0; i < n && !r.ec; ++i) v.push_back(r.str());
    return v;
}

}  // namespace

std::string_view to_string(policy p) noexcept {
    switch (p) {
        case policy::error: return "error";
        case policy::skip: return "skip";
        case policy::source_wins: return "source_wins";
        case policy::keep_local: return "keep_local";
    }
    return "?";
}

std::optional<policy> parse_policy(std::string_view s) noexcept {
    for (auto p : {policy::error, policy::skip, policy::source_wins, policy::keep_local})
        if (to_string(p) == s) return p;
    return std::nullopt;
}

std::string_view to_string(conflict_kind k) noexcept {
    switch (k) {
        case conflict_kind::insert_exists: return "insert_exists";
        case conflict_kind::update_missing: return "update_missing";
        case conflict_kind::update_differs: return "update_differs";
        case conflict_kind::delete_missing: return "delete_missing";
        case conflict_kind::delete_differs: return "delete_differs";
    }
    return "?";
}

std::string_view to_string(state s) noexcept {
    switch (s) {
        case state::starting: return "starting";
        case state::streaming: return "streaming";
        case state::catching_up: return "catching up";
        case state::offline: return "offline";
        case state::error: return "error";
        case state::stale: return "stale";
        case state::paused: return "paused";
        case state::syncing: return "syncing";
    }
    return "?";
}

policy subscriber_options::conflict_for(std::string_view schema, std::string_view table) const {
    for (const auto& [pattern, p] : table_conflict) {
        auto dot = pattern.find('.');
        if (dot == std::string::npos) continue;
        if (capture::table_filter::glob(std::string_view(pattern).substr(0, dot), schema) &&
            capture::table_filter::glob(std::string_view(pattern).substr(dot + 1), table))
            return p;
    }
    return conflict;
}

std::int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string status_key(std::string_view name) { return std::string(status_prefix) + std::string(name); }

lag lag_behind(const capture::change_log& log, std::uint64_t applied, std::uint64_t end) {
    lag l;
    l.end_lsn = end - 1;
    l.entries = end - 1 > applied ? end - 1 - applied : 0;
    if (l.entries)
        log.read(applied + 1, end, [&](std::uint64_t lsn, std::string_view bytes) {
            capture::transaction t;
            t.lsn = lsn;
            if (!capture::decode_header(bytes, t)) l.seconds = std::max(0.0, double(now_us() - t.commit_time_us) / 1e6);
            return false;
        });
    return l;
}

std::string encode(const subscriber_status& s) {
    capture::codec::writer w;
    w.u8(status_version);
    w.str(s.name);
    w.u8(static_cast<std::uint8_t>(s.st));
    w.str(s.message);
    w.varint(s.applied_lsn);
    w.varint(s.end_lsn);
    w.varint(s.lag_entries);
    w.fixed64(static_cast<std::int64_t>(s.lag_seconds * 1e6));
    w.fixed64(static_cast<std::int64_t>(s.txn_rate * 1e3));
    w.fixed64(static_cast<std::int64_t>(s.row_rate * 1e3));
    w.varint(s.applied_txns);
    w.varint(s.applied_rows);
    w.varint(s.conflicts);
    w.fixed64(s.updated_us);
    return std::move(w.out);
}

bool decode(std::string_view bytes, subscriber_status& s) {
    capture::codec::reader r(bytes);
    if (r.u8() != status_version) return false;
    s.name = r.str();
    auto st = r.u8();
    if (st < 1 || st > static_cast<int>(state::syncing)) return false;
    s.st = static_cast<state>(st);
    s.message = r.str();
    s.applied_lsn = r.varint();
    s.end_lsn = r.varint();
    s.lag_entries = r.varint();
    s.lag_seconds = double(r.fixed64()) / 1e6;
    s.txn_rate = double(r.fixed64()) / 1e3;
    s.row_rate = double(r.fixed64()) / 1e3;
    s.applied_txns = r.varint();
    s.applied_rows = r.varint();
    s.conflicts = r.varint();
    s.updated_us = r.fixed64();
    return !r.ec;
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

std::string sync_key(std::string_view subscriber) { return std::string(sync_prefix) + std::string(subscriber); }

sync_mark parse_sync_mark(std::string_view value) {
    sync_mark m;
    auto sp = value.find(' ');
    if (sp == std::string_view::npos) return m;
    std::string_view word = value.substr(0, sp);
    if (!parse_u64(value.substr(sp + 1), m.lsn)) return m;
    m.running = word == "running";
    m.done = word == "done";
    return m;
}

std::error_code store(capture::change_log& log, std::string key, std::string value) {
    std::promise<std::error_code> done;
    log.put_replay(std::move(key), std::move(value), [&](std::error_code ec, std::uint64_t) { done.set_value(ec); });
    return done.get_future().get();
}

std::string conflict_key(std::string_view subscriber, std::uint64_t lsn, std::uint32_t change) {
    std::string k(conflict_prefix);
    k.append(subscriber);
    k.push_back('\0');
    k += capture::lsn_key(lsn);
    for (int i = 3; i >= 0; --i) k.push_back(static_cast<char>(change >> (8 * i)));
    return k;
}

std::string encode(const conflict_record& c) {
    capture::codec::writer w;
    w.u8(conflict_version);
    w.str(c.subscriber);
    w.varint(c.lsn);
    w.varint(c.change);
    w.str(c.xid);
    w.fixed64(c.commit_time_us);
    w.str(c.schema);
    w.str(c.table);
    w.u8(static_cast<std::uint8_t>(c.kind));
    w.u8(static_cast<std::uint8_t>(c.resolution));
    put_strings(w, c.columns);
    put_strings(w, c.key_columns);
    w.values(c.key);
    put_rows(w, c.old_row);
    put_rows(w, c.new_row);
    put_rows(w, c.local_row);
    w.fixed64(c.time_us);
    return std::move(w.out);
}

bool decode(std::string_view bytes, conflict_record& c) {
    capture::codec::reader r(bytes);
    if (r.u8() != conflict_version) return false;
    c.subscriber = r.str();
    c.lsn = r.varint();
    c.change = static_cast<std::uint32_t>(r.varint());
    c.xid = r.str();
    c.commit_time_us = r.fixed64();
    c.schema = r.str();
    c.table = r.str();
    auto k = r.u8();
    auto p = r.u8();
    if (k < 1 || k > 5 || p < 1 || p > 4) return false;
    c.kind = static_cast<conflict_kind>(k);
    c.resolution = static_cast<policy>(p);
    c.columns = get_strings(r);
    c.key_columns = get_strings(r);
    c.key = r.values();
    c.old_row = get_rows(r);
    c.new_row = get_rows(r);
    c.local_row = get_rows(r);
    c.time_us = r.fixed64();
    return !r.ec && r.pos == bytes.size();
}

}  // namespace sqltap::replay
