#pragma once
// rewrite() by shape. Two texts of one shape (sql_shape.hpp) differ only in
// the values of their literals and in blanks and comments; rewrite() reads
// tokens only (which words, which kind of literal, where they begin and end)
// and adds its text at the edges of tokens, so the rewrite of one is the
// rewrite of the other with every edit moved to the same token's edge. A
// client that inlines its values (pgbench, ORMs in simple-protocol mode)
// sends a handful of shapes over and over; each is rewritten once per
// catalog entry.
//
// An entry holds the analysis and the catalog entries it was made for, and
// is used only for statements analysed alike (what rewrite() reads of them,
// positions aside: a literal may change the analysis, as in EXPLAIN
// (ANALYZE 0) and (ANALYZE 1)) and those same catalog objects (a new catalog generation makes new ones, and the
// entry's references keep an old one's address from being reused). An edit
// that does not map to the new text (not at a token's edge) makes it
// rewrite afresh. Not thread-safe: one per I/O thread.
#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>

#include "capture/analyzer.hpp"
#include "capture/rewriter.hpp"
#include "capture/sql_shape.hpp"

namespace sqltap::capture {

class rewrite_cache {
public:
    using table_ref = std::shared_ptr<const table_info>;
    static constexpr std::size_t max_text = 8192;  // longer texts are not kept
    explicit rewrite_cache(std::size_t capacity = 1024) : entries_(capacity) {}

    // rewrite(sql, a, …, form, with_xid), where `shape` is the shape of `sql` (or null:
    // no shape, nothing cached) and `table_for` returns the captured table a
    // statement writes (null otherwise). From the cache, the outcome's
    // `edits` are left empty.
    rewrite_outcome get(std::string_view sql, const analysis& a, const sql_shape* shape,
                        const std::function<table_ref(const statement&)>& table_for, column_form form,
                        bool with_xid = true);

    std::size_t hits() const noexcept { return hits_; }
    std::size_t misses() const noexcept { return misses_; }

private:
    struct entry {
        sql_shape shape;                // of the text the edits were made for
        std::vector<statement> statements;  // its analysis
        std::vector<table_ref> tables;  // per statement: what table_for returned
        rewrite_outcome outcome;        // without sql and insertions
    };
    lru_map<std::shared_ptr<const entry>> entries_;  // by form and shape key
    std::size_t hits_ = 0, misses_ = 0;
};

}  // namespace sqltap::capture
