// The statement analyser and rewriter, on any text:
// - analysis never crashes;
// - the cheap pre-check never says "read only" of text that may write (a
//   false negative there would lose data);
// - every write to a captured table is rewritten into text that still parses,
//   in both column forms, with and without before images and a row filter.
// The first input byte picks the table's options.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "capture/analyzer.hpp"
#include "capture/rewriter.hpp"

using namespace sqltap::capture;

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
    table_info t;
    t.oid = 16384;
    t.root_oid = 16384;
    t.columns = {{"id", 23, "integer", false}, {"a", 25, "text", false}, {"b", 3802, "jsonb", false}};
    t.key_columns = {0};
    if (opts & 2) t.key_columns = {0, 1};
    if (opts & 4) t.before_images = true;
    if (opts & 8) t.row_filter = "a <> 'skip'";
    auto table_for = [&](const statement& s) -> const table_info* {
        if (s.targets.empty()) return nullptr;
        t.schema = s.targets[0].schema.empty() ? "public" : s.targets[0].schema;
        t.name = s.targets[0].name;
        return &t;
    };
    const column_form form = (opts & 1) ? column_form::native : column_form::text;
    rewrite_outcome out = rewrite(sql, a, table_for, form);
    if (!out.unsupported.empty()) return 0;
    if (out.plans.size() != a.statements.size()) __builtin_trap();
    bool changed = false;
    for (const auto& p : out.plans) changed = changed || p.has_value();
    for (const auto& c : out.copies) changed = changed || c.has_value();
    if (!changed) return 0;
    analysis again = analyze(out.sql);
    static const bool print = std::getenv("SQLTAP_FUZZ_PRINT") != nullptr;  // to read a regression
    if (print) std::fprintf(stderr, "in:  %s\nout: %s\nparses: %d\n", sql.c_str(), out.sql.c_str(), again.ok);
    if (!again.ok) __builtin_trap();  // a rewrite that does not parse
    return 0;
}
