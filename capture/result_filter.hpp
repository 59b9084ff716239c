#pragma once
// The response side of capture: takes the columns the rewriter appended off
// each RowDescription and DataRow of a rewritten statement, so that the client
// gets exactly what it asked for, and turns what was taken into changes.
// Sans-io: message bodies in, message bytes and rows out.
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "capture/record.hpp"
#include "capture/rewriter.hpp"
#include "protocol/bytes.hpp"

namespace sqltap::capture {

struct captured_row {
    std::vector<value> row;         // the table's columns, text format
    std::optional<bool> inserted;   // ON CONFLICT: true inserted, false updated
    std::string xid;
    std::vector<value> old_key;     // UPDATE of key columns without before images: the key before it
    std::vector<value> old_row;     // UPDATE with before images: the row before it
    bool match = true, match_old = true;  // a row filter: the row matches it (now, before the update)
};

class result_filter {
public:
    explicit result_filter(const capture_plan& plan) : plan_(plan) {}

    // A RowDescription from the publisher. When the client asked for rows
    // (its own RETURNING), appends the description without the added fields to
    // `to_client`; otherwise appends nothing (the caller answers a Describe
    // with NoData). Errors: fewer fields than were added.
    std::error_code on_row_description(protocol::bytes body, protocol::byte_buffer& to_client) const;

    // A DataRow: takes the added columns into `out`; when the client asked for
    // rows, appends its part of the row to `to_client`.
    std::error_code on_data_row(protocol::bytes body, captured_row& out, protocol::byte_buffer& to_client) const;

    // What the statement did to the row, as the publisher counts it
    // (pg_stat_xact_user_tables): insert, update or delete.
    op written(const captured_row& r) const;

    // The change a captured row stands for, if any: under a row filter an
    // UPDATE that moves the row into the filter is an insert, out of it a
    // delete, and rows outside it are no change. `rel` is the table's index
    // in the transaction's relations.
    std::optional<change> to_change(captured_row&& r, std::uint32_t rel) const;

    // The log relation of the plan's table.
    relation log_relation() const;

private:
    const capture_plan& plan_;
};

}  // namespace sqltap::capture
