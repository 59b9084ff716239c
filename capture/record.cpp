#include "capture/record.hpp"

#include "capture/codec.hpp"

#include <cstring>

namespace sqltap::capture {
namespace {

using codec::writer;
using codec::reader;

class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "sqltap-log-record"; }
    std::string message(int ev) const override {
        switch (static_cast<record_errc>(ev)) {
            case record_errc::truncated: return "log record is truncated";
            case record_errc::bad_value: return "log record holds an invalid value";
            case record_errc::newer_version: return "log record has a newer format than this program reads";
            case record_errc::trailing_bytes: return "log record has unexpected trailing bytes";
        }
        return "log record error";
    }
};

}  // namespace

const std::error_category& record_category() noexcept {
    static const category c;
    return c;
}

std::string_view to_string(op o) noexcept {
    switch (o) {
        case op::insert: return "insert";
        case op::update: return "update";
        case op::del: return "delete";
        case op::truncate: return "truncate";
        case op::ddl: return "ddl";
        case op::resync: return "resync";
    }
    return "?";
}

std::uint32_t transaction::relation_index(const relation& r) {
    for (std::uint32_t i = 0; i < relations.size(); ++i)
        if (relations[i] == r) return i;
    relations.push_back(r);
    return static_cast<std::uint32_t>(relations.size() - 1);
}

std::string encode(const transaction& t) {
    writer w;
    w.out.reserve(64 + 160 * t.changes.size());  // (pgbench's rows take 100 to 300 bytes)
    w.u8(record_format_version);
    w.u8(0);
    w.str(t.xid);
    w.str(t.database);
    w.fixed64(t.commit_time_us);
    w.str(t.origin);
    w.varint(t.relations.size());
    for (const auto& r : t.relations) {
        w.str(r.schema);
        w.str(r.table);
        w.varint(r.columns.size());
        for (const auto& c : r.columns) w.str(c);
        w.varint(r.key_columns.size());
        for (auto k : r.key_columns) w.varint(k);
    }
    w.varint(t.changes.size());
    for (const auto& c : t.changes) {
        w.u8(static_cast<std::uint8_t>(c.kind));
        switch (c.kind) {
            case op::insert:
                w.varint(c.rel);
                w.values(c.new_row);
                break;
            case op::update:
                w.varint(c.rel);
                w.values(c.key);
                w.values(c.new_row);
                w.u8(c.old_row ? 1 : 0);
                if (c.old_row) w.values(*c.old_row);
                break;
            case op::del:
                w.varint(c.rel);
                w.values(c.key);
                w.u8(c.old_row ? 1 : 0);
                if (c.old_row) w.values(*c.old_row);
                break;
            case op::truncate: w.varint(c.rel); break;
            case op::ddl:
                w.str(c.sql);
                w.str(c.search_path);
                break;
            case op::resync:
                w.varint(c.rel);
                w.str(c.reason);
                break;
        }
    }
    return std::move(w.out);
}

namespace {
// The fields before the relations: xid, database, commit time, origin.
std::error_code read_header(reader& r, transaction& t) {
    std::uint8_t version = r.u8();
    if (r.ec) return r.ec;
    if (version > record_format_version) return record_errc::newer_version;
    if (version == 0) return record_errc::bad_value;
    r.u8();  // flags
    t.xid = r.str();
    t.database = r.str();
    t.commit_time_us = r.fixed64();
    t.origin = r.str();
    return r.ec;
}
}  // namespace

std::error_code decode_header(std::string_view bytes, transaction& t) {
    reader r(bytes);
    return read_header(r, t);
}

std::error_code decode(std::string_view bytes, transaction& t) {
    reader r(bytes);
    if (auto ec = read_header(r, t)) return ec;
    t.relations.clear();
    t.changes.clear();
    std::uint64_t nrel = r.count();
    for (std::uint64_t i = 0; i < nrel && !r.ec; ++i) {
        relation rel;
        rel.schema = r.str();
        rel.table = r.str();
        std::uint64_t ncol = r.count();
        for (std::uint64_t j = 0; j < ncol && !r.ec; ++j) rel.columns.push_back(r.str());
        std::uint64_t nkey = r.count();
        for (std::uint64_t j = 0; j < nkey && !r.ec; ++j) {
            std::uint64_t k = r.varint();
            if (k >= rel.columns.size()) r.fail(record_errc::bad_value);
            rel.key_columns.push_back(static_cast<std::uint32_t>(k));
        }
        t.relations.push_back(std::move(rel));
    }
    auto rel_index = [&]() {
        std::uint64_t i = r.varint();
        if (i >= t.relations.size()) r.fail(record_errc::bad_value);
        return static_cast<std::uint32_t>(i);
    };
    std::uint64_t nchg = r.count();
    for (std::uint64_t i = 0; i < nchg && !r.ec; ++i) {
        change c;
        std::uint8_t kind = r.u8();
        if (kind < 1 || kind > 6) {
            r.fail(record_errc::bad_value);
            break;
        }
        c.kind = static_cast<op>(kind);
        switch (c.kind) {
            case op::insert:
                c.rel = rel_index();
                c.new_row = r.values();
                break;
            case op::update:
                c.rel = rel_index();
                c.key = r.values();
                c.new_row = r.values();
                if (r.u8()) c.old_row = r.values();
                break;
            case op::del:
                c.rel = rel_index();
                c.key = r.values();
                if (r.u8()) c.old_row = r.values();
                break;
            case op::truncate: c.rel = rel_index(); break;
            case op::ddl:
                c.sql = r.str();
                c.search_path = r.str();
                break;
            case op::resync:
                c.rel = rel_index();
                c.reason = r.str();
                break;
        }
        t.changes.push_back(std::move(c));
    }
    if (r.ec) return r.ec;
    if (r.pos != bytes.size()) return record_errc::trailing_bytes;
    return {};
}

std::string lsn_key(std::uint64_t lsn) {
    std::string k(8, '\0');
    for (int i = 7; i >= 0; --i) {
        k[static_cast<std::size_t>(i)] = static_cast<char>(lsn & 0xff);
        lsn >>= 8;
    }
    return k;
}

std::uint64_t lsn_from_key(std::string_view key) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8 && i < key.size(); ++i) v = (v << 8) | static_cast<std::uint8_t>(key[i]);
    return v;
}

}  // namespace sqltap::capture
