#include "capture/rewriter.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

namespace sqltap::capture {
namespace {

bool ident_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
// A character that continues a name: PostgreSQL's ident_cont, "$" included.
bool ident_cont(char c) { return ident_char(c) || c == '$'; }

// At sql[i] == '$': the length of a dollar-quote tag ("$$", "$tag$"), or 0.
std::size_t dollar_tag(std::string_view sql, std::size_t i) {
    std::size_t j = i + 1;
    if (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j]))) return 0;  // $1 is a parameter
    while (j < sql.size() && ident_char(sql[j]) && sql[j] != '$') ++j;
    if (j < sql.size() && sql[j] == '$') return j - i + 1;
    return 0;
}

// At sql[i]: when a string literal, quoted identifier or dollar-quoted string
// starts there, the index just after it (at most `to` for the quoted kinds);
// otherwise i. `from` is where the text being scanned starts (an E before the
// quote, itself a token, makes backslashes escapes).
std::size_t quoted_end(std::string_view sql, std::size_t i, std::size_t from, std::size_t to) {
    char c = sql[i];
    if (c == '\'' || c == '"') {
        bool backslash = c == '\'' && i > from && (sql[i - 1] == 'E' || sql[i - 1] == 'e') &&
                         (i - 1 == from || !ident_cont(sql[i - 2]));
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
        return std::min(i, to);
    }
    if (std::size_t tag_len = c == '$' ? dollar_tag(sql, i) : 0; tag_len > 0) {
        std::size_t close = sql.find(sql.substr(i, tag_len), i + tag_len);
        return close == std::string_view::npos || close >= to ? to : close + tag_len;
    }
    return i;
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

std::optional<std::vector<std::optional<std::string>>> parse_record(std::string_view text, std::size_t fields) {
    // As record_in reads it: a field is NULL when empty and unquoted; inside
    // double quotes, "" is a quote; a backslash takes the next character as it is.
    if (text.size() < 2 || text.front() != '(' || text.back() != ')') return std::nullopt;
    std::vector<std::optional<std::string>> out;
    std::size_t i = 1, end = text.size() - 1;
    for (;;) {
        if (i == end || text[i] == ',') {
            out.emplace_back();  // NULL
        } else {
            std::string v;
            bool quoted = false;
            while (i < end && (quoted || text[i] != ',')) {
                char c = text[i++];
                if (c == '\\') {
                    if (i >= end) return std::nullopt;
                    v += text[i++];
                } else if (c == '"') {
                    if (quoted && i < end && text[i] == '"') {
                        v += '"';
                        ++i;
                    } else {
                        quoted = !quoted;
                    }
                } else {
                    v += c;
                }
            }
            if (quoted) return std::nullopt;
            out.emplace_back(std::move(v));
        }
        if (i == end) break;
        ++i;  // the comma
    }
    if (out.size() != fields) return std::nullopt;
    return out;
}

std::size_t last_token_end(std::string_view sql, std::size_t from, std::size_t to) {
    to = std::min(to, sql.size());
    const std::string_view text = sql.substr(0, to);  // comments end at `to` at the latest
    std::size_t end = from, i = from;
    while (i < to) {
        if (std::size_t after = skip_blank(text, i); after != i) {
            i = after;
        } else if (std::size_t q = quoted_end(sql, i, from, to); q != i) {
            i = end = q;
        } else if (ident_char(sql[i]) && !std::isdigit(static_cast<unsigned char>(sql[i]))) {
            // A name, whole: "$" inside it (a$b$c) starts no dollar quote.
            while (i < to && ident_cont(sql[i])) ++i;
            end = i;
        } else {
            ++i;
            end = i;
        }
    }
    return end;
}

namespace {

// A value as an added column. In the text form every added column is of type
// text, so a client that asks for binary results still gets them as plain
// text bytes (the native form leaves them as they are). format('%s') calls
// the type's output function (a ::text cast would not: bool, inet, bpchar
// differ); num_nulls keeps NULL distinct from '' (IS NULL would misjudge a
// composite whose fields are all NULL).
std::string as_text(const std::string& expr, column_form form) {
    if (form == column_form::native) return expr;
    return "CASE WHEN num_nulls(" + expr + ") = 0 THEN format('%s', " + expr + ") END";
}

// Whether the row `ref` matches the table's row filter, as 't' or 'f' (NULL
// counts as false). The filter names the table's columns unqualified; a
// subquery over the row alone keeps them from meeting other tables' columns.
std::string filter_match(const table_info& t, const std::string& ref) {
    return "CASE WHEN (SELECT (" + t.row_filter + ") FROM (SELECT " + ref + ".*) AS sqltap_row) THEN 't' ELSE 'f' END";
}

// A column of the written table: `prefix` is "" where no other relation is
// in scope (the name alone is the table's column, and PostgreSQL has fewer
// tokens to parse), else the table's reference and a dot.
std::string column(const std::string& prefix, const std::string& name) { return prefix + quote_ident(name); }

// What capture needs returned from a write to `t`, referred to as `ref`;
// `qualify`: other relations are in scope (see column()).
std::string capture_list(const table_info& t, const std::string& ref, bool qualify, bool on_conflict,
                         capture_plan& plan, column_form form, bool with_xid) {
    const std::string prefix = qualify ? ref + "." : "";
    std::string list;
    for (const auto& col : t.columns) list += (list.empty() ? "" : ", ") + as_text(column(prefix, col.name), form);
    plan.table = &t;
    plan.added = t.columns.size() + (with_xid ? 1 : 0);
    plan.xid = with_xid;
    if (on_conflict) {
        list += ", (" + prefix + "xmax = 0)::text";
        plan.inserted_flag = true;
        ++plan.added;
    }
    // (Its text, in a simple Query's text results, is the xid8's own.)
    if (with_xid) list += form == column_form::native ? ", pg_current_xact_id()" : ", pg_current_xact_id()::text";
    if (!t.row_filter.empty()) {
        list += ", " + filter_match(t, ref);
        plan.match = true;
        ++plan.added;
    }
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
            while (i < n && ident_cont(sql[i])) ++i;
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

// Calls f(at, length, depth) for each token of sql[from, to) outside literals,
// quoted identifiers and comments: a name, whole, or any other character;
// `depth` counts the parentheses and brackets around it. Stops when f
// returns false.
template <class F>
void for_each_token(std::string_view sql, std::size_t from, std::size_t to, F&& f) {
    int depth = 0;
    std::size_t i = from;
    while (i < to) {
        std::size_t after = skip_blank(sql.substr(0, to), i);
        if (after != i) {
            i = after;
            continue;
        }
        char c = sql[i];
        if (std::size_t q = quoted_end(sql, i, from, to); q != i) {
            i = q;
            continue;
        }
        std::size_t n = 1;
        if (ident_char(c) && !std::isdigit(static_cast<unsigned char>(c)))
            while (i + n < to && ident_cont(sql[i + n])) ++n;
        if (c == ')' || c == ']') --depth;
        if (!f(i, n, depth)) return;
        if (c == '(' || c == '[') ++depth;
        i += n;
    }
}

bool starts_name(char c) { return ident_char(c) && !std::isdigit(static_cast<unsigned char>(c)); }

// Words outside parentheses, literals, quoted identifiers and comments in
// sql[from, to): (offset, length) of each.
std::vector<std::pair<std::size_t, std::size_t>> top_level_words(std::string_view sql, std::size_t from, std::size_t to) {
    std::vector<std::pair<std::size_t, std::size_t>> words;
    for_each_token(sql, from, to, [&](std::size_t at, std::size_t n, int depth) {
        if (depth == 0 && starts_name(sql[at])) words.emplace_back(at, n);
        return true;
    });
    return words;
}

}  // namespace

namespace {
// Whether the text sql[from, to) between UPDATE and a word "set" already
// names the table (and its alias), so that the "set" is the SET keyword: not
// empty (blanks and comments do not count), not just ONLY, and not ending in
// "." or AS (after which "set" is a name). As in PostgreSQL's grammar, an
// alias called set needs AS.
bool names_relation(std::string_view sql, std::size_t from, std::size_t to) {
    std::size_t begin = skip_blank(sql.substr(0, to), from);
    std::string_view between = sql.substr(begin, last_token_end(sql, begin, to) - begin);
    if (between.empty() || equals_ci(between, "only") || between.back() == '.') return false;
    if (between.size() >= 2 && equals_ci(between.substr(between.size() - 2), "as") &&
        (between.size() == 2 || !ident_cont(between[between.size() - 3])))
        return false;
    return true;
}
// The first assignment of an UPDATE's SET clause, sql[from, to), whose value
// can carry the before image: (where its value starts, where it ends), or
// nothing. The value is wrapped in a CASE whose condition sets it aside, so
// its type must not depend on the column it is assigned to: a value starting
// with a quote, a parameter, a sign or a parenthesis (an untyped literal or
// $n inside), NULL, DEFAULT or ROW, or a prefixed string (E'…', B'…', U&'…')
// is passed over, and so is a multiple assignment "(a, b) = …"; the next
// assignment may carry it then.
std::optional<std::pair<std::size_t, std::size_t>> carrier_assignment(std::string_view sql, std::size_t from,
                                                                      std::size_t to) {
    std::size_t start = from, value = std::string_view::npos;
    bool multiple = false;
    auto judge = [&](std::size_t end) -> std::optional<std::pair<std::size_t, std::size_t>> {
        if (value == std::string_view::npos || multiple) return std::nullopt;
        std::size_t b = skip_blank(sql.substr(0, end), value);
        if (b >= end) return std::nullopt;
        char c = sql[b];
        if (c != '"' && !starts_name(c)) return std::nullopt;
        if (c != '"') {
            std::size_t w = b;
            while (w < end && ident_cont(sql[w])) ++w;
            std::string_view word = sql.substr(b, w - b);
            if (equals_ci(word, "null") || equals_ci(word, "default") || equals_ci(word, "row")) return std::nullopt;
            // A prefixed string: E'…', B'…', U&'…' (not "a&b": an operator).
            if (w < end && (sql[w] == '\'' || (sql[w] == '&' && w + 1 < end && (sql[w + 1] == '\'' || sql[w + 1] == '"'))))
                return std::nullopt;
        }
        std::size_t e = last_token_end(sql, b, end);
        if (e <= b) return std::nullopt;
        return std::make_pair(b, e);
    };
    std::optional<std::pair<std::size_t, std::size_t>> found;
    for_each_token(sql, from, to, [&](std::size_t at, std::size_t, int depth) {
        if (depth != 0) return true;
        if (sql[at] == ',') {
            if ((found = judge(at))) return false;
            start = at + 1;
            value = std::string_view::npos;
        } else if (sql[at] == '=' && value == std::string_view::npos) {
            // The target before it: a name, maybe subscripted or a field; a
            // multiple assignment starts with "(".
            std::size_t t = skip_blank(sql.substr(0, at), start);
            multiple = t < at && sql[t] == '(';
            value = at + 1;
        }
        return true;
    });
    if (found) return found;
    return judge(to);
}

}  // namespace

rewrite_outcome rewrite(std::string_view sql, const analysis& a,
                        const std::function<const table_info*(const statement&)>& table_for, column_form form,
                        bool with_xid) {
    rewrite_outcome out;
    out.plans.resize(a.statements.size());
    out.copies.resize(a.statements.size());
    using insertion = rewrite_edit;
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
            std::string list = capture_list(*t, real, false, false, x.insert, form, true);
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
        std::string ref = quote_ident(s.target_alias.empty() ? t->name : s.target_alias);
        capture_plan plan;
        plan.kind = s.kind;
        plan.client_returning = s.has_returning;
        // A key column the statement assigns (UPDATE SET, ON CONFLICT DO UPDATE SET).
        std::string changed;
        for (const auto& col : s.set_columns)
            for (auto k : t->key_columns)
                if (t->columns[k].name == col) changed = col;
        if (s.kind == statement_kind::insert) {
            // ON CONFLICT DO UPDATE SET key = …: the row's key before it is not returned.
            if (!changed.empty()) {
                out.unsupported_table = t;
                out.unsupported = "an INSERT … ON CONFLICT DO UPDATE that changes key column \"" + changed +
                                  "\" of captured table " + where;
                continue;
            }
        }
        // UPDATE: where the before image rides (a SET value), or the join
        // that brings the old key (and the other old columns, and the row
        // filter's verdict before the update).
        std::optional<std::pair<std::size_t, std::size_t>> carrier;
        bool join = false, filtered = false, before = false;
        std::size_t upd = std::string_view::npos, set = upd, whr = upd, ret = upd;
        std::size_t end = last_token_end(sql, s.location, s.location + s.length);
        if (s.kind == statement_kind::update) {
            // Under a row filter the row's match before the update counts too,
            // which the same join brings.
            filtered = !t->row_filter.empty();
            // Before images ride on the same join, where it can be made; the
            // join is required only for a key change or a row filter.
            bool required = !changed.empty() || filtered;
            before = t->before_images && t->key != key_source::all_columns && !s.update_from;
            if (required || before) {
                // The old key comes from a join on the key to the rows the
                // client's WHERE selects, locked FOR UPDATE (a scalar subquery
                // or a ctid join is wrong under concurrency):
                //   UPDATE rel SET … FROM (SELECT keys FROM rel WHERE cond FOR UPDATE) AS sqltap_old
                //   WHERE (keys) = (old keys) RETURNING …, old keys
                // The client's "WHERE cond" stays where it was, inside the subquery.
                std::string why;
                if (t->key == key_source::all_columns) why = "it has no primary key or replica identity";
                else if (s.update_from) why = "the UPDATE has FROM or WHERE CURRENT OF";
                auto words = top_level_words(sql, s.location, end);
                for (auto [at, n] : words) {
                    std::string_view w = sql.substr(at, n);
                    if (upd == std::string_view::npos && equals_ci(w, "update")) upd = at + n;
                    else if (upd != std::string_view::npos && set == std::string_view::npos && equals_ci(w, "set") &&
                             names_relation(sql, upd, at))
                        set = at;  // (a table may be called "set": UPDATE set SET …)
                    else if (set != std::string_view::npos && whr == std::string_view::npos && equals_ci(w, "where")) whr = at;
                    else if (set != std::string_view::npos && equals_ci(w, "returning")) ret = at;
                }
                if (why.empty() && (upd == std::string_view::npos || set == std::string_view::npos))
                    why = "its text could not be taken apart";
                if (!why.empty() && required) {
                    out.unsupported_table = t;
                    out.unsupported = changed.empty()
                                          ? "an UPDATE of captured table " + where + ", which has a row filter (" + why + ")"
                                          : "an UPDATE that changes key column \"" + changed + "\" of captured table " +
                                                where + " (" + why + ")";
                    continue;
                }
                // Only a before image is wanted: where the SET clause has a
                // value that can carry it, the value's CASE sets the row aside
                // (set_config, local to the transaction) as the UPDATE reads
                // it, and RETURNING reads it back, row by row. The SET list is
                // evaluated on the row being updated (after a concurrent update,
                // on its newest version), so the image is right under
                // concurrency, and the statement plans as a plain UPDATE: the
                // join below costs about three times its planning.
                if (why.empty() && !required) {
                    std::size_t clause_end = whr != std::string_view::npos ? whr : ret != std::string_view::npos ? ret : end;
                    carrier = carrier_assignment(sql, set + 3, clause_end);
                }
                // Without the join (only a before image was wanted, and no
                // value carries it): the plain RETURNING below, and
                // subscribers check the key only.
                join = why.empty() && !carrier;
            }
        }
        // Names alone where the table is the only relation in scope.
        const bool qualify = s.other_relations || join;
        const std::string prefix = qualify ? ref + "." : "";
        std::string list = capture_list(*t, ref, qualify, s.on_conflict, plan, form, with_xid);
        if (carrier) {
            // The record holds the columns the UPDATE may change; the others
            // are as in the new row. Where something else may change the row
            // as it is written (a trigger, a rule: hidden writers), every
            // column. Generated columns follow what they are made of: always.
            std::vector<std::uint32_t> cols;
            bool all = t->hidden_writers;
            for (const auto& name : s.set_columns) {
                auto it = std::find_if(t->columns.begin(), t->columns.end(),
                                       [&](const column_info& c) { return c.name == name; });
                if (it == t->columns.end()) all = true;  // (the server will refuse the UPDATE)
            }
            for (std::uint32_t c = 0; c < t->columns.size(); ++c) {
                const auto& col = t->columns[c];
                if (all || col.generated ||
                    std::find(s.set_columns.begin(), s.set_columns.end(), col.name) != s.set_columns.end())
                    cols.push_back(c);
            }
            std::string row;
            for (auto c : cols) row += (row.empty() ? "" : ", ") + column(prefix, t->columns[c].name);
            inserts.push_back({carrier->first, "CASE WHEN pg_catalog.set_config('" + std::string(before_image_setting) +
                                                   "', ROW(" + row + ")::text, true) IS NULL THEN NULL ELSE "});
            // The value may touch what follows it ("… 'x'WHERE …"). (Always
            // the blank: the edits are reused for texts of the same
            // shape, which may differ in blanks; see rewrite_cache.)
            inserts.push_back({carrier->second, " END "});
            list += ", pg_catalog.current_setting('" + std::string(before_image_setting) + "')";
            plan.old_image = plan.old_key = plan.old_row = true;
            plan.image_columns = std::move(cols);
            ++plan.added;
        }
        if (join) {
            // The table (and alias) as written, without the blanks and
            // comments around it (a line comment would swallow what follows).
            std::size_t rel_begin = skip_blank(sql.substr(0, set), upd);
            std::size_t rel_end = last_token_end(sql, rel_begin, set);
            std::string rel(sql.substr(rel_begin, rel_end - rel_begin));
            std::string keys, old_keys, picks;
            for (std::size_t j = 0; j < t->key_columns.size(); ++j) {
                std::string kc = ref + "." + quote_ident(t->columns[t->key_columns[j]].name);
                std::string ok = "sqltap_old.sqltap_k" + std::to_string(j);
                keys += (j ? ", " : "") + kc;
                old_keys += (j ? ", " : "") + ok;
                picks += (j ? ", " : "") + kc + " AS sqltap_k" + std::to_string(j);
                list += ", " + as_text(ok, form);
            }
            // A bare RETURNING * would now list sqltap_old's columns too.
            for (auto star : s.returning_stars) inserts.push_back({s.location + star, ref + "."});
            plan.old_key = true;
            plan.added += t->key_columns.size();
            if (before) {
                for (std::size_t c = 0; c < t->columns.size(); ++c) {
                    if (std::find(t->key_columns.begin(), t->key_columns.end(), c) != t->key_columns.end()) continue;
                    std::string name = "sqltap_o" + std::to_string(c);
                    picks += ", " + ref + "." + quote_ident(t->columns[c].name) + " AS " + name;
                    list += ", " + as_text("sqltap_old." + name, form);
                    ++plan.added;
                }
                plan.old_row = true;
            }
            if (filtered) {
                picks += ", " + filter_match(*t, ref) + " AS sqltap_f";
                list += ", sqltap_old.sqltap_f";
                plan.match_old = true;
                ++plan.added;
            }
            std::string head = "FROM (SELECT " + picks + " FROM " + rel;
            std::string tail = " FOR UPDATE) AS sqltap_old WHERE (" + keys + ") = (" + old_keys + ")";
            // The client's condition ends at its last token (before
            // RETURNING, if any): not after a comment, which would
            // swallow what is added.
            std::size_t cond_end = ret != std::string_view::npos ? last_token_end(sql, s.location, ret) : end;
            if (whr != std::string_view::npos) {
                inserts.push_back({whr, head + " "});
                inserts.push_back({cond_end, tail});
            } else {
                inserts.push_back({cond_end, " " + head + tail});
            }
        }
        inserts.push_back({end, (s.has_returning ? ", " : " RETURNING ") + list});
        out.plans[i] = plan;
    }
    // Applied back to front; of two at one place the one pushed first ends up first.
    std::reverse(inserts.begin(), inserts.end());
    std::stable_sort(inserts.begin(), inserts.end(), [](const insertion& x, const insertion& y) { return x.at > y.at; });
    out.edits = std::move(inserts);
    apply_edits(sql, out);
    return out;
}

void apply_edits(std::string_view sql, const std::vector<rewrite_edit>& edits,
                 std::span<const std::pair<std::size_t, std::size_t>> places, rewrite_outcome& out) {
    std::size_t added = 0;
    for (const auto& e : edits) added += e.text.size();
    out.sql.clear();
    out.sql.reserve(sql.size() + added);
    out.insertions.clear();
    out.insertions.reserve(places.size());
    // Front to back: the edits are stored back to front.
    std::size_t from = 0, k = 0;
    for (auto it = edits.rbegin(); it != edits.rend() && k < places.size(); ++it, ++k) {
        const auto [at, replaces] = places[k];
        out.sql.append(sql.substr(from, at - from));
        out.sql.append(it->text);
        from = at + replaces;
        // Error positions: a replacement counts as the bytes it adds.
        out.insertions.emplace_back(at, it->text.size() > replaces ? it->text.size() - replaces : 0);
    }
    out.sql.append(sql.substr(from));
}

std::size_t rewritten_offset(const rewrite_outcome& out, std::size_t at) {
    std::size_t shift = 0;
    for (auto [o, n] : out.insertions)
        if (o <= at) shift += n;
    return at + shift;
}

void apply_edits(std::string_view sql, rewrite_outcome& out) {
    std::vector<std::pair<std::size_t, std::size_t>> places;
    places.reserve(out.edits.size());
    for (auto it = out.edits.rbegin(); it != out.edits.rend(); ++it) places.emplace_back(it->at, it->replaces);
    apply_edits(sql, out.edits, places, out);
}

}  // namespace sqltap::capture
