#pragma once
// Makes writes to captured tables return what capture needs: every column of
// the row as the publisher stored it (serial ids, defaults, trigger changes
// included) and the transaction id. The list is appended after the
// statement's last token, as a new RETURNING clause or after the client's own
// list, so every position in the client's text (and so every error position
// the client sees) stays as it was. The added columns come last in each result
// row; the response side strips exactly that many. Every added column is of
// type text (the value as the type's output function writes it), so whatever
// result format the client asks for, the added columns arrive as text bytes;
// a simple Query (whose results are always text) gets the columns as they are,
// which the publisher parses and plans faster.
#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "capture/analyzer.hpp"
#include "capture/catalog.hpp"

namespace sqltap::capture {

struct capture_plan {
    statement_kind kind = statement_kind::insert;
    const table_info* table = nullptr;  // owned by the caller's catalog cache
    std::size_t added = 0;              // columns appended to each result row
    bool inserted_flag = false;         // ON CONFLICT: an "(xmax = 0)" column says inserted vs updated
    bool client_returning = false;      // the client asked for rows itself
    bool match = false;                 // a row filter: whether the row matches it ('t'/'f')
    bool old_key = false;               // UPDATE of key columns (or under a row filter): the key before it
    bool match_old = false;             // UPDATE under a row filter: whether the row matched before
    bool old_row = false;               // UPDATE with before images: the non-key columns before it
    bool old_image = false;             // … carried as one record, ROW(columns)::text (see rewrite())
    // old_image: the columns the record holds, in table order; the others
    // were as in the new row.
    std::vector<std::uint32_t> image_columns{};
    bool xid = true;  // the transaction's xid is among the added columns
    // Added columns, in order: the table's columns (new row for insert/update,
    // the deleted row for delete), then the inserted flag if any, then the
    // xid (unless the session knows it already, see `xid`), then (match) the
    // row filter on the row, then (old_key) the row's key before the update,
    // then (old_row) the other columns before it, then (match_old) the filter
    // on the row before it. With old_image, the one
    // record takes the place of the old key and the other columns.
};

// The custom setting an UPDATE sets its before image aside in (see rewrite()).
inline constexpr std::string_view before_image_setting = "sqltap.before_image";

// The fields of a record's text as record_out writes it ((1,,"a b","")): NULL for
// an empty unquoted field. nullopt when the text is not a record of `fields` fields.
std::optional<std::vector<std::optional<std::string>>> parse_record(std::string_view text, std::size_t fields);

// COPY … FROM into a captured table runs as four statements: a staging
// table of the same name in pg_temp (so the client's COPY, its answers and
// its error messages read as before), the client's COPY into it, an
// INSERT … SELECT … RETURNING from it into the table (defaults, identity
// and triggers apply as they would for COPY), and the staging table dropped.
// The client sees the answers of its COPY only.
struct copy_expansion {
    capture_plan insert;  // the plan of the INSERT, the third statement
};

// One change to the client's text: `text` in place of the `replaces` bytes at `at`.
struct rewrite_edit {
    std::size_t at = 0;
    std::string text;
    std::size_t replaces = 0;
};

struct rewrite_outcome {
    std::string sql;                               // the text to send to the publisher
    std::vector<std::optional<capture_plan>> plans;  // one per statement of the analysis
    std::vector<std::optional<copy_expansion>> copies;  // one per statement: a COPY FROM expanded
    std::string unsupported;  // non-empty: a captured write this version cannot capture, and why
    const table_info* unsupported_table = nullptr;  // the table it writes
    // Where text was added: (byte offset in the client's text, bytes added), ascending.
    std::vector<std::pair<std::size_t, std::size_t>> insertions;
    // The changes that make `sql` of the client's text, back to front (of
    // two at one offset, the one that ends up later in the text first).
    std::vector<rewrite_edit> edits;
};

// Makes out.sql and out.insertions from the client's text and out.edits.
void apply_edits(std::string_view sql, rewrite_outcome& out);
// Where byte offset `at` of the client's text lies in out.sql: text added at
// `at` comes before what the client had there.
std::size_t rewritten_offset(const rewrite_outcome& out, std::size_t at);
// The same with `edits` (stored back to front) at `places` in `sql` (front to
// back: offset, bytes replaced): the rewrite cache's edits in another text of
// the same shape.
void apply_edits(std::string_view sql, const std::vector<rewrite_edit>& edits,
                 std::span<const std::pair<std::size_t, std::size_t>> places, rewrite_outcome& out);

// `table_for` returns the catalog entry when a statement writes a captured
// table (nullptr otherwise).
enum class column_form {
    text,    // each added column cast to text through the type's output function
    native,  // as stored: only for results that come as text (a simple Query,
             // or a Bind that asks text for the added columns)
};
// `with_xid` false: the writes do not return the xid (the session learnt it
// from an earlier write of the same transaction).
rewrite_outcome rewrite(std::string_view sql, const analysis& a,
                        const std::function<const table_info*(const statement&)>& table_for,
                        column_form form = column_form::text, bool with_xid = true);

// The end of the last token in sql[from, to): after it, only blanks and
// comments. String literals, quoted identifiers and dollar quotes are skipped
// whole, so comment markers inside them do not count.
std::size_t last_token_end(std::string_view sql, std::size_t from, std::size_t to);

std::string quote_ident(std::string_view name);
// A standard-conforming string literal ('it''s').
std::string quote_literal(std::string_view text);

}  // namespace sqltap::capture
