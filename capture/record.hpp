#pragma once
// The change log's record format: one record per committed transaction, keyed
// by its LSN. This is the only place that knows the byte layout.
//
// Layout (version 1; integers are LEB128 varints unless noted):
//   u8 version, u8 flags(0)
//   string xid, string database, i64 commit_time_us (8 bytes LE), string origin
//   relations: count, then per relation: string schema, string table,
//              count + strings column names, count + key column indexes
//   changes: count, then per change: u8 op, and by op
//     insert   rel, values(new)
//     update   rel, values(key), values(new), u8 has_old [values(old)]
//     delete   rel, values(key), u8 has_old [values(old)]
//     truncate rel
//     ddl      string sql, string search_path
//     resync   rel, string reason
//   values: count, then per value varint (length + 1) and bytes; 0 = NULL
// Values are PostgreSQL text format; NULL is distinct from the empty string.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace sqltap::capture {

inline constexpr std::uint8_t record_format_version = 1;

using value = std::optional<std::string>;  // nullopt is SQL NULL

struct relation {
    std::string schema, table;
    std::vector<std::string> columns;
    std::vector<std::uint32_t> key_columns;  // indexes into `columns`
    bool operator==(const relation&) const = default;
};

enum class op : std::uint8_t { insert = 1, update = 2, del = 3, truncate = 4, ddl = 5, resync = 6 };

std::string_view to_string(op o) noexcept;

struct change {
    op kind = op::insert;
    std::uint32_t rel = 0;  // index into transaction::relations (not for ddl)
    std::vector<value> key;                // update, delete: the row's identity before
    std::vector<value> new_row;            // insert, update: all captured columns
    std::optional<std::vector<value>> old_row;  // update, delete: before image, if captured
    std::string sql, search_path;          // ddl
    std::string reason;                    // resync
    bool operator==(const change&) const = default;
};

struct transaction {
    std::uint64_t lsn = 0;  // the key; not stored in the value
    std::string xid;
    std::string database;
    std::int64_t commit_time_us = 0;  // microseconds since 1970-01-01 UTC
    std::string origin;               // empty: written by clients of this sqltapd
    std::vector<relation> relations;
    std::vector<change> changes;
    bool operator==(const transaction&) const = default;

    // The index of a relation, added when new.
    std::uint32_t relation_index(const relation& r);
};

enum class record_errc { truncated = 1, bad_value, newer_version, trailing_bytes };
const std::error_category& record_category() noexcept;
inline std::error_code make_error_code(record_errc e) noexcept { return {static_cast<int>(e), record_category()}; }

std::string encode(const transaction& t);
// Decodes a record; `t.lsn` is left as the caller set it.
std::error_code decode(std::string_view bytes, transaction& t);
// Only xid, database, commit time and origin (not the changes), cheaply.
std::error_code decode_header(std::string_view bytes, transaction& t);

// Key encoding: 8-byte big-endian, so LMDB's byte order is LSN order.
std::string lsn_key(std::uint64_t lsn);
std::uint64_t lsn_from_key(std::string_view key) noexcept;

}  // namespace sqltap::capture

template <>
struct std::is_error_code_enum<sqltap::capture::record_errc> : std::true_type {};
