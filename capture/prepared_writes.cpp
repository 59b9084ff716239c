#include "capture/prepared_writes.hpp"

#include <algorithm>
#include <charconv>
#include <functional>
#include <iterator>

namespace sqltap::capture {

std::optional<prepared_form> make_prepared_form(std::string_view client, const statement& s,
                                                const rewrite_outcome& rewritten, const sql_shape* shape) {
    if (s.location != 0 || s.value_literals.size() > prepared_writes::max_parameters) return std::nullopt;
    const std::string& r = rewritten.sql;
    auto moved = [&](std::size_t at) { return rewritten_offset(rewritten, at); };
    // The statement ends at its last token and what was added there (not
    // after a comment, which would swallow the EXECUTE after it).
    std::size_t stmt_end = std::min(s.length, client.size());
    std::size_t last = 0;
    if (shape && shape->size == client.size()) {  // the end of its last token not past the statement's end
        auto it = std::upper_bound(shape->tokens.begin(), shape->tokens.end(), stmt_end,
                                   [](std::size_t v, const sql_shape::token& t) { return v < t.end; });
        if (it != shape->tokens.begin()) last = std::prev(it)->end;
    } else {
        last = last_token_end(client, 0, stmt_end);
    }
    std::size_t end = moved(last);
    if (end > r.size() || end > prepared_writes::max_text) return std::nullopt;
    prepared_form out;
    out.key.reserve(end);
    out.body.reserve(end + 16);
    out.types.reserve(s.value_literals.size() * 9);
    out.values.reserve(s.value_literals.size() * 8);
    std::size_t from = 0, k = 0;
    char param[24];
    for (std::size_t lit : s.value_literals) {
        auto value = number_literal_at(client, lit);
        if (!value) return std::nullopt;
        std::size_t at = moved(lit);
        // The literal must be where the rewrite left it, unchanged.
        if (at < from || at + value->length > end || r.compare(at, value->length, client.substr(lit, value->length)) != 0)
            return std::nullopt;
        param[0] = '$';
        std::size_t n = std::size_t(std::to_chars(param + 1, param + sizeof param, ++k).ptr - param);
        out.key.append(r, from, at - from).append(param, n);
        out.body.append(r, from, at - from).append(param, n);
        if (n < value->length) out.body.append(value->length - n, ' ');
        else if (n > value->length) out.growth.emplace_back(lit, n - value->length);
        if (k > 1) {
            out.types.append(", ");
            out.values.append(", ");
        }
        out.types.append(value->type);
        out.values.append(value->value);
        from = at + value->length;
    }
    out.key.append(r, from, end - from);
    out.body.append(r, from, end - from);
    return out;
}

std::optional<write_pattern> make_write_pattern(std::string_view client, const statement& s, const sql_shape& shape,
                                                const prepared_form& form) {
    if (s.location != 0 || shape.size != client.size()) return std::nullopt;
    write_pattern p;
    p.types = form.types;
    p.around.reserve(s.value_literals.size() + 1);
    std::size_t from = 0;
    for (std::size_t lit : s.value_literals) {
        auto value = number_literal_at(client, lit);
        if (!value || lit < from) return std::nullopt;
        std::size_t end = lit + value->length;
        // A token starts at the literal, one ends where it ends.
        auto first = std::lower_bound(shape.tokens.begin(), shape.tokens.end(), lit,
                                      [](const sql_shape::token& t, std::size_t v) { return t.begin < v; });
        auto last = std::lower_bound(first, shape.tokens.end(), end,
                                     [](const sql_shape::token& t, std::size_t v) { return t.end < v; });
        if (first == shape.tokens.end() || first->begin != lit || last == shape.tokens.end() || last->end != end)
            return std::nullopt;
        p.around.emplace_back(client.substr(from, lit - from));
        from = end;
    }
    p.around.emplace_back(client.substr(from));
    return p;
}

std::string pattern_key(std::string_view sql) {
    std::string key(sql.size(), '\0');
    char* out = key.data();
    for (char c : sql) {
        *out = c;
        out += c < '0' || c > '9';
    }
    key.resize(std::size_t(out - key.data()));
    return key;
}

std::optional<std::string> match_write_pattern(const write_pattern& p, std::string_view sql) {
    std::string values;
    values.reserve(p.around.size() * 8);
    std::size_t at = 0, types_at = 0;
    for (std::size_t k = 0; k + 1 < p.around.size(); ++k) {
        const std::string& before = p.around[k];
        if (sql.compare(at, before.size(), before) != 0) return std::nullopt;
        at += before.size();
        // The same text before it: the lexer is where it was at the
        // pattern's literal, which a number may replace.
        auto value = number_literal_at(sql, at);
        if (!value) return std::nullopt;
        if (k > 0) {
            if (p.types.compare(types_at, 2, ", ") != 0) return std::nullopt;
            types_at += 2;
            values.append(", ");
        }
        if (p.types.compare(types_at, value->type.size(), value->type) != 0) return std::nullopt;
        types_at += value->type.size();
        values.append(value->value);
        at += value->length;
    }
    if (types_at != p.types.size() || sql.substr(std::min(at, sql.size())) != p.around.back()) return std::nullopt;
    return values;
}

const std::string* prepared_writes::ready(const std::string& key) {
    entry* e = entries_.find(key);
    return e && e->ready ? &e->name : nullptr;
}

std::optional<prepared_writes::use> prepared_writes::get(const std::string& key, std::shared_ptr<const void> keep) {
    if (entries_.capacity() == 0) return std::nullopt;
    if (entry* e = entries_.find(key)) return use{e->name, !e->ready, std::nullopt};
    // The first time: remembered (by hash), sent as text.
    std::string h = std::to_string(std::hash<std::string>{}(key));
    if (!seen_.find(h)) {
        seen_.put(std::move(h), 0);
        return std::nullopt;
    }
    use u;
    u.name = "sqltap_w" + std::to_string(++seq_);
    u.prepare = true;
    if (entries_.size() >= entries_.capacity()) {
        if (auto old = entries_.pop_oldest(); old && old->ready) u.deallocate = old->name;
    }
    entries_.put(key, entry{u.name, false, std::move(keep)});
    return u;
}

void prepared_writes::prepared(const std::string& key) {
    if (entry* e = entries_.find(key)) e->ready = true;
}

void prepared_writes::forget() { entries_.clear(); }

}  // namespace sqltap::capture
