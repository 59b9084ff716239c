#include "capture/rewrite_cache.hpp"

#include <string>
#include <vector>

namespace sqltap::capture {

namespace {
// Whether rewrite() reads the same of both (their positions aside).
bool alike(const statement& x, const statement& y) {
    return x.kind == y.kind && x.targets == y.targets && x.target_alias == y.target_alias &&
           (x.target_location == statement::npos) == (y.target_location == statement::npos) &&
           x.set_columns == y.set_columns && x.update_from == y.update_from &&
           x.other_relations == y.other_relations &&
           x.returning_stars.size() == y.returning_stars.size() && x.has_returning == y.has_returning &&
           x.modifying_cte == y.modifying_cte && x.on_conflict == y.on_conflict;
}
}  // namespace

rewrite_outcome rewrite_cache::get(std::string_view sql, const analysis& a, const sql_shape* shape,
                                   const std::function<table_ref(const statement&)>& table_for, column_form form,
                                   bool with_xid) {
    std::vector<table_ref> tables;
    tables.reserve(a.statements.size());
    for (const auto& s : a.statements) tables.push_back(s.targets.empty() ? nullptr : table_for(s));
    auto fresh = [&] {
        return rewrite(sql, a, [&](const statement& s) { return tables[std::size_t(&s - a.statements.data())].get(); },
                       form, with_xid);
    };
    // Long texts are rewritten each time: an entry holds its text's shape
    // (about three times the text), and OLTP statements are short.
    if (!shape || shape->size != sql.size() || sql.size() > max_text) return fresh();

    std::string key;
    key.reserve(shape->key.size() + 2);
    key.push_back(form == column_form::native ? 'n' : 't');
    key.push_back(with_xid ? 'x' : '-');
    key.append(shape->key);
    if (auto* found = entries_.find(key)) {
        const entry& e = **found;
        bool same = e.tables == tables && e.statements.size() == a.statements.size();
        for (std::size_t i = 0; same && i < a.statements.size(); ++i) same = alike(e.statements[i], a.statements[i]);
        if (same) {
            // The edits' places in this text, front to back.
            std::vector<std::pair<std::size_t, std::size_t>> at;  // (offset, bytes replaced)
            at.reserve(e.outcome.edits.size());
            for (auto it = e.outcome.edits.rbegin(); it != e.outcome.edits.rend(); ++it) {
                auto b = map_edge(e.shape, *shape, it->at, it->replaces ? edge::start : edge::end);
                auto end = it->replaces ? map_edge(e.shape, *shape, it->at + it->replaces, edge::end) : b;
                if (!b || !end || *end < *b || (!at.empty() && *b < at.back().first + at.back().second)) break;
                at.emplace_back(*b, *end - *b);
            }
            if (at.size() == e.outcome.edits.size()) {
                ++hits_;
                rewrite_outcome out;
                out.plans = e.outcome.plans;
                out.copies = e.outcome.copies;
                out.unsupported = e.outcome.unsupported;
                out.unsupported_table = e.outcome.unsupported_table;
                apply_edits(sql, e.outcome.edits, at, out);
                return out;
            }
        }
    }
    ++misses_;
    rewrite_outcome out = fresh();
    auto e = std::make_shared<entry>();
    e->shape = *shape;
    e->statements = a.statements;
    e->tables = std::move(tables);
    e->outcome.plans = out.plans;
    e->outcome.copies = out.copies;
    e->outcome.unsupported = out.unsupported;
    e->outcome.unsupported_table = out.unsupported_table;
    e->outcome.edits = out.edits;
    entries_.assign(std::move(key), std::move(e));
    return out;
}

}  // namespace sqltap::capture
