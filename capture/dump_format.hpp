#pragma once
// How sqltap-dump shows a transaction: text for people, JSON (one object per
// transaction per line) for scripts. The JSON schema is documented in
// docs/change-log.md.
#include <string>
#include <string_view>

#include "capture/record.hpp"

namespace sqltap::capture {

struct dump_filter {
    std::string table;  // "schema.table", empty: all
    std::string xid;    // empty: all
    // Whether a change passes; DDL is shown only without a table filter.
    bool keep(const transaction& t, const change& c) const;
    bool keep(const transaction& t) const;
};

std::string format_text(std::uint64_t lsn, const transaction& t, const dump_filter& f);
std::string format_json(std::uint64_t lsn, const transaction& t, const dump_filter& f);
std::string json_string(std::string_view s);
// "2026-11-22T15:00:00.123456Z"
std::string iso_time(std::int64_t micros);

// Pieces, shared with the replay engine's reports.
std::string json_value(const value& v);
std::string json_row(const relation& r, const std::vector<value>& vals);  // {"col":"v",…}
std::string json_key(const relation& r, const std::vector<value>& key);
std::string text_value(const value& v);  // NULL, plain, or quoted
std::string text_row(const relation& r, const std::vector<value>& vals);  // " col=v …"
std::string text_key(const relation& r, const std::vector<value>& key);

}  // namespace sqltap::capture
