#include "capture/result_filter.hpp"

#include "protocol/messages.hpp"

#include <algorithm>

namespace sqltap::capture {

using protocol::errc;

std::error_code result_filter::on_row_description(protocol::bytes body, protocol::byte_buffer& to_client) const {
    protocol::field_reader r(body);
    std::int16_t n = r.i16();
    if (r.error()) return r.error();
    if (n < 0 || std::size_t(n) < plan_.added) return errc::bad_value;
    std::size_t keep = std::size_t(n) - plan_.added;
    // Walk the fields the client keeps to find where the added ones start.
    for (std::size_t i = 0; i < keep && !r.error(); ++i) {
        r.cstr();
        r.raw(18);  // table oid, column, type oid, size, modifier, format
    }
    if (r.error()) return r.error();
    std::size_t kept_bytes = body.size() - r.remaining() - 2;
    if (!plan_.client_returning) return {};
    protocol::message_writer w(to_client);
    w.begin('T').i16(static_cast<std::int16_t>(keep)).raw(body.subspan(2, kept_bytes)).end();
    return {};
}

std::error_code result_filter::on_data_row(protocol::bytes body, captured_row& out,
                                           protocol::byte_buffer& to_client) const {
    protocol::field_reader r(body);
    std::int16_t n = r.i16();
    if (r.error()) return r.error();
    if (n < 0 || std::size_t(n) < plan_.added) return errc::bad_value;
    std::size_t keep = std::size_t(n) - plan_.added;
    for (std::size_t i = 0; i < keep && !r.error(); ++i) r.nullable_value();
    if (r.error()) return r.error();
    std::size_t kept_bytes = body.size() - r.remaining() - 2;

    const std::size_t ncols = plan_.table->columns.size();
    out.row.clear();
    out.row.reserve(ncols);
    for (std::size_t i = 0; i < ncols; ++i) {
        auto v = r.nullable_value();
        if (r.error()) return r.error();
        out.row.push_back(v ? value(std::string(protocol::as_text(*v))) : value());
    }
    if (plan_.inserted_flag) {
        auto v = r.nullable_value();
        out.inserted = v && (protocol::as_text(*v) == "true" || protocol::as_text(*v) == "t");
    }
    out.xid.clear();
    if (plan_.xid) {
        auto xid = r.nullable_value();
        if (xid) out.xid = std::string(protocol::as_text(*xid));
    }
    auto flag = [&](bool& f) {
        auto v = r.nullable_value();
        f = v && protocol::as_text(*v) == "t";
    };
    if (plan_.match) flag(out.match);
    out.old_key.clear();
    out.old_row.clear();
    const auto& keys = plan_.table->key_columns;
    if (plan_.old_image) {
        // The columns the update may change, as they were, in one record
        // (in table order); the others as in the new row.
        auto v = r.nullable_value();
        if (r.error()) return r.error();
        if (!v) return errc::bad_value;
        const auto& cols = plan_.image_columns;
        auto fields = parse_record(protocol::as_text(*v), cols.size());
        if (!fields) return errc::bad_value;
        out.old_row.reserve(ncols);
        std::size_t k = 0;
        for (std::size_t i = 0; i < ncols; ++i) {
            if (k < cols.size() && cols[k] == i) {
                auto& f = (*fields)[k++];
                out.old_row.push_back(f ? value(std::move(*f)) : value());
            } else {
                out.old_row.push_back(out.row[i]);
            }
        }
        if (k != cols.size()) return errc::bad_value;
    } else if (plan_.old_key) {
        // The key before the update, then (before images) the other columns.
        for (std::size_t i = 0; i < keys.size(); ++i) {
            auto v = r.nullable_value();
            if (r.error()) return r.error();
            out.old_key.push_back(v ? value(std::string(protocol::as_text(*v))) : value());
        }
        if (plan_.old_row) {
            out.old_row.resize(ncols);
            for (std::size_t j = 0; j < keys.size(); ++j) {
                if (keys[j] >= ncols) return errc::bad_value;
                out.old_row[keys[j]] = std::move(out.old_key[j]);
            }
            out.old_key.clear();
            for (std::size_t i = 0; i < ncols; ++i) {
                if (std::find(keys.begin(), keys.end(), i) != keys.end()) continue;
                auto v = r.nullable_value();
                if (r.error()) return r.error();
                if (v) out.old_row[i] = value(std::string(protocol::as_text(*v)));
            }
        }
    }
    if (plan_.match_old) flag(out.match_old);
    if (auto ec = r.finish()) return ec;

    if (plan_.client_returning) {
        protocol::message_writer w(to_client);
        w.begin('D').i16(static_cast<std::int16_t>(keep)).raw(body.subspan(2, kept_bytes)).end();
    }
    return {};
}

relation result_filter::log_relation() const {
    relation rel;
    rel.schema = plan_.table->schema;
    rel.table = plan_.table->name;
    for (const auto& c : plan_.table->columns) rel.columns.push_back(c.name);
    rel.key_columns = plan_.table->key_columns;
    return rel;
}

op result_filter::written(const captured_row& r) const {
    switch (plan_.kind) {
        case statement_kind::insert: return r.inserted && !*r.inserted ? op::update : op::insert;
        case statement_kind::update: return op::update;
        default: return op::del;
    }
}

std::optional<change> result_filter::to_change(captured_row&& r, std::uint32_t rel) const {
    change c;
    c.rel = rel;
    const auto& keys = plan_.table->key_columns;
    auto key_of = [&](const std::vector<value>& row) {
        std::vector<value> key;
        key.reserve(keys.size());
        for (auto k : keys) key.push_back(row[k]);
        return key;
    };
    switch (written(r)) {
        case op::insert:
            if (!r.match) return std::nullopt;
            c.kind = op::insert;
            c.new_row = std::move(r.row);
            break;
        case op::update:
            // The key before the update: returned separately when the key
            // changed (or under a row filter), or part of the row before it
            // (before images). An ON CONFLICT … DO UPDATE keeps the key;
            // whether the row matched before is not known there, so it
            // counts as matching.
            if (plan_.old_row) {
                c.key = key_of(r.old_row);
                c.old_row = std::move(r.old_row);
            } else {
                c.key = plan_.old_key ? std::move(r.old_key) : key_of(r.row);
            }
            if (!r.match && !r.match_old) return std::nullopt;
            if (!r.match) {  // out of the filter: gone for subscribers
                c.kind = op::del;
                break;
            }
            c.kind = r.match_old ? op::update : op::insert;  // into it: new for subscribers
            if (c.kind == op::insert) {
                c.key.clear();
                c.old_row.reset();
            }
            c.new_row = std::move(r.row);
            break;
        default:
            if (!r.match) return std::nullopt;
            c.kind = op::del;
            c.key = key_of(r.row);
            c.old_row = std::move(r.row);
            break;
    }
    return c;
}

}  // namespace sqltap::capture
