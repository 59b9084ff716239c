// The statement analyser and rewriter, on any text:
// - analysis never crashes;
// - the cheap pre-check never says "read only" of text that may write (a
//   false negative there would lose data);
// - every write to a captured table is rewritten into text that still parses,
//   in both column forms, with and without before images and a row filter;
// - a text of the same shape (other literals, other blanks and comments)
//   rewritten through the rewrite cache gets what rewrite() makes of it:
//   the same tokens and the same plans.
// The first input byte picks the table's options.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "capture/analyzer.hpp"
#include "capture/rewrite_cache.hpp"
#include "capture/rewriter.hpp"
#include "capture/sql_shape.hpp"

using namespace sqltap::capture;

namespace {

// A text of the same shape as `sql`: each string literal and number another
// one, and the blanks between tokens other blanks or a comment (`seed` picks).
std::string variant(std::string_view sql, const sql_shape& sh, std::uint8_t seed) {
    std::string out;
    std::size_t prev = 0;
    for (std::size_t k = 0; k < sh.tokens.size(); ++k) {
        std::size_t b = sh.tokens[k].begin, e = sh.tokens[k].end;
        std::string_view gap = sql.substr(prev, b - prev);
        switch ((seed + k) % 5) {
            case 0: case 1: out += gap; break;
            case 2: out += gap.empty() ? "" : " "; break;
            case 3: out += " /* c */ "; break;
            default: out += gap.empty() ? "" : "\n-- c\n"; break;
        }
        std::string_view tok = sql.substr(b, e - b);
        if (tok[0] == '\'') out += (seed + k) % 2 ? "'it''s -- x'" : "''";
        else if (tok[0] >= '0' && tok[0] <= '9') out += (seed + k) % 2 ? "7" : "123.5e2";
        else if (tok[0] == '.' && tok.size() > 1) out += "7";
        else out += tok;
        prev = e;
    }
    out += (seed & 1) ? " -- end" : "";
    return out;
}

template <class Ref, class For>
void same_shape_check(const std::string& sql, const analysis& a, const rewrite_outcome& out, Ref& table_ref,
                      For& table_for, column_form form, std::uint8_t seed, bool print) {
    auto sh = shape_of(sql);
    if (!sh) return;
    std::string v = variant(sql, *sh, seed);
    auto sv = shape_of(v);
    if (!sv || sv->key != sh->key) return;
    analysis av = analyze(v);
    if (!av.ok) return;
    rewrite_cache cache;
    rewrite_outcome first = cache.get(sql, a, &*sh, table_ref, form);
    if (first.sql != out.sql) __builtin_trap();  // a miss is rewrite() itself
    rewrite_outcome cached = cache.get(v, av, &*sv, table_ref, form);
    rewrite_outcome direct = rewrite(v, av, table_for, form);
    if (print) std::fprintf(stderr, "variant: %s\ncached: %s\ndirect: %s\n", v.c_str(), cached.sql.c_str(), direct.sql.c_str());
    if (cached.unsupported != direct.unsupported) __builtin_trap();
    if (cached.plans.size() != direct.plans.size() || cached.copies.size() != direct.copies.size()) __builtin_trap();
    for (std::size_t i = 0; i < cached.plans.size(); ++i) {
        if (cached.plans[i].has_value() != direct.plans[i].has_value()) __builtin_trap();
        if (cached.plans[i] && (cached.plans[i]->added != direct.plans[i]->added ||
                                cached.plans[i]->old_image != direct.plans[i]->old_image ||
                                cached.plans[i]->table != direct.plans[i]->table))
            __builtin_trap();
    }
    auto kc = shape_of(cached.sql), kd = shape_of(direct.sql);
    if (kc.has_value() != kd.has_value()) __builtin_trap();
    if (kc && kc->key != kd->key) __builtin_trap();  // the cached rewrite is another statement
    if (!kc && cached.sql != direct.sql) __builtin_trap();
    if (cached.sql != v && analyze(direct.sql).ok && !analyze(cached.sql).ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1 || size > 4096) return 0;
    const std::uint8_t opts = data[0];
    const std::string sql(reinterpret_cast<const char*>(data + 1), size - 1);
    if (sql.find('\0') != std::string::npos) return 0;  // a Query message's text ends at the first NUL

    analysis a = analyze(sql);
    const bool read_only = certainly_read_only(sql);
    if (!a.ok) return 0;
    if (read_only) {
        for (const auto& s : a.statements)
            if (s.may_write()) __builtin_trap();  // the pre-check missed a write
    }

    // Every table written is "captured": id integer key, a text, b jsonb.
    table_info base;
    base.oid = 16384;
    base.root_oid = 16384;
    base.columns = {{"id", 23, "integer", false}, {"a", 25, "text", false}, {"b", 3802, "jsonb", false}};
    base.key_columns = {0};
    if (opts & 2) base.key_columns = {0, 1};
    if (opts & 4) base.before_images = true;
    if (opts & 8) base.row_filter = "a <> 'skip'";
    std::map<std::string, std::shared_ptr<const table_info>> tables;
    auto table_ref = [&](const statement& s) -> std::shared_ptr<const table_info> {
        if (s.targets.empty()) return nullptr;
        std::string schema = s.targets[0].schema.empty() ? "public" : s.targets[0].schema;
        auto& p = tables[schema + '.' + s.targets[0].name];
        if (!p) {
            auto t = std::make_shared<table_info>(base);
            t->schema = schema;
            t->name = s.targets[0].name;
            p = std::move(t);
        }
        return p;
    };
    auto table_for = [&](const statement& s) { return table_ref(s).get(); };
    const column_form form = (opts & 1) ? column_form::native : column_form::text;
    rewrite_outcome out = rewrite(sql, a, table_for, form);
    static const bool print = std::getenv("SQLTAP_FUZZ_PRINT") != nullptr;  // to read a regression
    same_shape_check(sql, a, out, table_ref, table_for, form, opts, print);
    if (!out.unsupported.empty()) return 0;
    if (out.plans.size() != a.statements.size()) __builtin_trap();
    bool changed = false;
    for (const auto& p : out.plans) changed = changed || p.has_value();
    for (const auto& c : out.copies) changed = changed || c.has_value();
    if (!changed) return 0;
    analysis again = analyze(out.sql);
    if (print) std::fprintf(stderr, "in:  %s\nout: %s\nparses: %d\n", sql.c_str(), out.sql.c_str(), again.ok);
    if (!again.ok) __builtin_trap();  // a rewrite that does not parse
    return 0;
}
