#include "capture/rewriter.hpp"

#include <algorithm>
#include <cctype>

namespace sqltap::capture {
namespace {

bool ident_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}

// At sql[i] == '$': the length of a dollar-quote tag ("$$", "$tag$"), or 0.
std::size_t dollar_tag(std::string_view sql, std::size_t i) {
    std::size_t j = i + 1;
    if (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j]))) return 0;  // $1 is a parameter
    while (j < sql.size() && ident_char(sql[j]) && sql[j] != '$') ++j;
    if (j < sql.size() && sql[j] == '$') return j - i + 1;
    return 0;
}

}  // namespace

namespace {
// `text` between two `q`s, each `q` inside doubled.
std::string quoted(std::string_view text, char q) {
    std::string out(1, q);
    for (char c : text) {
        out += c;
        if (c == q) out += c;
    }
    return out + q;
}
}  // namespace

std::string quote_ident(std::string_view name) { return quoted(name, '"'); }
std::string quote_literal(std::string_view text) { return quoted(text, '\''); }

std::size_t last_token_end(std::string_view sql, std::size_t from, std::size_t to) {
    to = std::min(to, sql.size());
    const std::string_view text = sql.substr(0, to);  // comments end at `to` at the latest
    std::size_t end = from, i = from;
    while (i < to) {
        char c = sql[i];
        if (std::size_t after = skip_blank(text, i); after != i) {
            i = after;
        } else if (c == '\'' || c == '"') {
            // E'…' strings allow backslash escapes; the E is the token before.
            bool backslash = c == '\'' && i > from && (sql[i - 1] == 'E' || sql[i - 1] == 'e') &&
                             (i - 1 == from || !ident_char(sql[i - 2]));
            ++i;
            while (i < to) {
                if (backslash && sql[i] == '\\') {
                    i += 2;
                    continue;
                }
                if (sql[i] == c) {
                    if (i + 1 < to && sql[i + 1] == c) {
                        i += 2;
                        continue;
                    }
                    ++i;
                    break;
                }
                ++i;
            }
            end = std::min(i, to);
        } else if (c == '$' && dollar_tag(sql, i) > 0) {
            std::size_t tag_len = dollar_tag(sql, i);
            std::string_view tag = sql.substr(i, tag_len);
            std::size_t close = sql.find(tag, i + tag_len);
            i = close == std::string_view::npos || close >= to ? to : close + tag_len;
            end = i;
        } else {
            ++i;
            end = i;
        }
    }
    return end;
}

namespace {

// What capture needs returned from a write to `t` (referred to as `ref`).
std::string capture_list(const table_info& t, const std::string& ref, bool on_conflict, capture_plan& plan) {
    std::string list;
    for (const auto& col : t.columns) {
        // Every added column is of type text, so a client that asks for
        // binary results still gets them as plain text bytes. format('%s')
        // calls the type's output function (a ::text cast would not: bool,
        // inet, bpchar differ); num_nulls keeps NULL distinct from '' (IS
        // NULL would misjudge a composite whose fields are all NULL).
        std::string c = ref + "." + quote_ident(col.name);
        list += (list.empty() ? "" : ", ") + ("CASE WHEN num_nulls(" + c + ") = 0 THEN format('%s', " + c + ") END");
    }
    plan.table = &t;
    plan.added = t.columns.size() + 1;
    if (on_conflict) {
        list += ", (" + ref + ".xmax = 0)::text";
        plan.inserted_flag = true;
        ++plan.added;
    }
    list += ", pg_current_xact_id()::text";
    return list;
}

// The end of a possibly qualified, possibly quoted name starting at `at`.
std::size_t qualified_name_end(std::string_view sql, std::size_t at) {
    std::size_t i = at, n = sql.size();
    for (;;) {
        if (i < n && sql[i] == '"') {
            for (++i; i < n; ++i) {
                if (sql[i] != '"') continue;
                if (i + 1 < n && sql[i + 1] == '"') {
                    ++i;
                    continue;
                }
                ++i;
                break;
            }
        } else {
            while (i < n && (ident_char(sql[i]) || sql[i] == '$')) ++i;
        }
        std::size_t j = skip_blank(sql, i);
        if (j < n && sql[j] == '.') {
            i = skip_blank(sql, j + 1);
            continue;
        }
        return i;
    }
}

// The text inside "( … )" starting at sql[at] == '(', or npos.
std::size_t paren_close(std::string_view sql, std::size_t at) {
    bool quoted = false;
    for (std::size_t i = at + 1; i < sql.size(); ++i) {
        if (sql[i] == '"') quoted = !quoted;
        else if (sql[i] == ')' && !quoted) return i;
    }
    return std::string_view::npos;
}

}  // namespace

rewrite_outcome rewrite(std::string_view sql, const analysis& a,
                        const std::function<const table_info*(const statement&)>& table_for) {
    rewrite_outcome out;
    out.plans.resize(a.statements.size());
    out.copies.resize(a.statements.size());
    struct insertion {
        std::size_t at;
        std::string text;
        std::size_t replaces = 0;  // bytes of the client's text it replaces
    };
    std::vector<insertion> inserts;
    for (std::size_t i = 0; i < a.statements.size(); ++i) {
        const statement& s = a.statements[i];
        const table_info* t = s.targets.empty() ? nullptr : table_for(s);
        if (!t) continue;
        const std::string where = t->schema + "." + t->name;
        // Writes whose rows a RETURNING list cannot bring back, whatever the
        // statement around them is.
        if (s.modifying_cte) {
            out.unsupported_table = t;
            out.unsupported = "a data-modifying WITH (or COPY (query) TO) that writes captured table " + where;
            continue;
        }
        if (s.kind == statement_kind::merge) {
            out.unsupported_table = t;
            out.unsupported = "MERGE into captured table " + where + " (PostgreSQL 15 has no MERGE … RETURNING)";
            continue;
        }
        if (s.kind == statement_kind::explain_analyze) {
            out.unsupported_table = t;
            out.unsupported = "EXPLAIN ANALYZE of a write to captured table " + where;
            continue;
        }
        if (s.kind == statement_kind::copy_from && s.target_location != statement::npos) {
            std::size_t rel = s.location + s.target_location;
            std::size_t rel_end = qualified_name_end(sql, rel);
            std::size_t end = last_token_end(sql, s.location, s.location + s.length);
            std::string real = quote_ident(t->schema) + "." + quote_ident(t->name);
            std::string staging = "pg_temp." + quote_ident(t->name);
            std::string cols = "*", target = real;
            std::size_t k = skip_blank(sql, rel_end);
            if (k < end && sql[k] == '(') {
                std::size_t close = paren_close(sql, k);
                if (close != std::string_view::npos && close < end) {
                    cols = std::string(sql.substr(k + 1, close - k - 1));
                    target = real + " (" + cols + ")";
                }
            }
            copy_expansion x;
            x.insert.kind = statement_kind::insert;
            std::string list = capture_list(*t, real, false, x.insert);
            inserts.push_back({s.location, "CREATE TEMP TABLE " + quote_ident(t->name) + " AS SELECT * FROM " + real +
                                               " WITH NO DATA;"});
            inserts.push_back({rel, staging, rel_end - rel});
            inserts.push_back({end, ";INSERT INTO " + target + " SELECT " + cols + " FROM " + staging + " RETURNING " +
                                        list + ";DROP TABLE " + staging});
            out.copies[i] = x;
            continue;
        }
        bool dml = s.kind == statement_kind::insert || s.kind == statement_kind::update || s.kind == statement_kind::del;
        if (!dml) continue;
        if (s.kind == statement_kind::update) {
            for (const auto& col : s.set_columns) {
                for (auto k : t->key_columns) {
                    if (t->columns[k].name == col) {
                        out.unsupported_table = t;
                        out.unsupported = "an UPDATE that changes key column \"" + col + "\" of captured table " + where;
                    }
                }
            }
            if (!out.unsupported.empty()) continue;
        }
        std::string ref = quote_ident(s.target_alias.empty() ? t->name : s.target_alias);
        capture_plan plan;
        plan.kind = s.kind;
        plan.client_returning = s.has_returning;
        std::string list = capture_list(*t, ref, s.on_conflict, plan);
        std::size_t at = last_token_end(sql, s.location, s.location + s.length);
        inserts.push_back({at, (s.has_returning ? ", " : " RETURNING ") + list});
        out.plans[i] = plan;
    }
    out.sql.assign(sql);
    std::stable_sort(inserts.begin(), inserts.end(), [](const insertion& x, const insertion& y) { return x.at > y.at; });
    for (const auto& ins : inserts) out.sql.replace(ins.at, ins.replaces, ins.text);
    // Error positions: a replacement counts as the bytes it adds.
    for (auto it = inserts.rbegin(); it != inserts.rend(); ++it)
        out.insertions.emplace_back(it->at, it->text.size() > it->replaces ? it->text.size() - it->replaces : 0);
    return out;
}

}  // namespace sqltap::capture
