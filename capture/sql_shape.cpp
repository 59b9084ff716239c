#include "capture/sql_shape.hpp"

#include <algorithm>

namespace sqltap::capture {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool ident_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool ident_char(char c) { return ident_start(c) || is_digit(c) || c == '$'; }
// Characters PostgreSQL's lexer puts into operators.
bool op_char(char c) {
    switch (c) {
        case '+': case '-': case '*': case '/': case '<': case '>': case '=': case '~': case '!':
        case '@': case '#': case '%': case '^': case '&': case '|': case '`': case '?': case ':':
            return true;
        default: return false;
    }
}

// The end of the quoted text (' or ") that starts at sql[i], a doubled quote
// standing for one; npos when it is not closed, or when `no_backslash` and it
// holds a backslash (an escape under E'' or standard_conforming_strings = off).
std::size_t quoted_end(std::string_view sql, std::size_t i, char q, bool no_backslash) {
    for (++i; i < sql.size(); ++i) {
        if (no_backslash && sql[i] == '\\') return std::string_view::npos;
        if (sql[i] != q) continue;
        if (i + 1 < sql.size() && sql[i + 1] == q) {
            ++i;
            continue;
        }
        return i + 1;
    }
    return std::string_view::npos;
}

bool starts_number(std::string_view sql, std::size_t i) {
    return i < sql.size() && (is_digit(sql[i]) || (sql[i] == '.' && i + 1 < sql.size() && is_digit(sql[i + 1])));
}

// The end of the number that starts at sql[i] (see starts_number) as
// PostgreSQL's lexer reads it (digits, a fraction, an exponent); npos when a
// name, a dot or a quote runs into it (left to the parser). `integral`:
// neither a fraction nor an exponent.
std::size_t number_end(std::string_view sql, std::size_t i, bool& integral) {
    const std::size_t n = sql.size();
    integral = true;
    while (i < n && is_digit(sql[i])) ++i;
    if (i < n && sql[i] == '.') {
        integral = false;
        ++i;
        while (i < n && is_digit(sql[i])) ++i;
    }
    if (i < n && (sql[i] == 'e' || sql[i] == 'E')) {
        std::size_t j = i + 1;
        if (j < n && (sql[j] == '+' || sql[j] == '-')) ++j;
        if (j < n && is_digit(sql[j])) {
            integral = false;
            i = j;
            while (i < n && is_digit(sql[i])) ++i;
        }
    }
    if (i < n && (ident_char(sql[i]) || sql[i] == '.' || sql[i] == '\'' || sql[i] == '"')) return std::string_view::npos;
    return i;
}

// Markers of literal kinds in the key; they appear in no token.
constexpr char number_marker[] = "\x01n";
constexpr char string_marker[] = "\x01s";

}  // namespace

std::optional<sql_shape> shape_of(std::string_view sql) {
    sql_shape out;
    out.size = sql.size();
    if (sql.size() > UINT32_MAX) return std::nullopt;
    const std::size_t n = sql.size();
    out.key.reserve(n + n / 2);
    out.tokens.reserve(n / 3 + 4);
    std::size_t i = 0;
    bool last_was_string = false;
    auto emit = [&](std::size_t b, std::size_t e, std::string_view key_text) {
        out.tokens.push_back({static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(e)});
        out.key.append(key_text);
        out.key.push_back('\0');
    };
    while (i < n) {
        char c = sql[i];
        if (is_space(c)) {
            ++i;
            continue;
        }
        if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
            while (i < n && sql[i] != '\n' && sql[i] != '\r') ++i;  // as PostgreSQL's lexer
            continue;
        }
        if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
            int depth = 1;
            i += 2;
            while (i < n && depth > 0) {
                if (sql[i] == '/' && i + 1 < n && sql[i + 1] == '*') {
                    ++depth;
                    i += 2;
                } else if (sql[i] == '*' && i + 1 < n && sql[i + 1] == '/') {
                    --depth;
                    i += 2;
                } else {
                    ++i;
                }
            }
            if (depth > 0) return std::nullopt;
            continue;
        }
        bool is_string = false;
        std::size_t b = i;
        if (c == '\'') {
            // 'text' with '' for a quote. A backslash may escape (E'' or
            // standard_conforming_strings = off): no shape.
            if (last_was_string) return std::nullopt;  // 'a' 'b' may be one literal
            i = quoted_end(sql, i, '\'', true);
            if (i == std::string_view::npos) return std::nullopt;
            emit(b, i, string_marker);
            is_string = true;
        } else if (c == '"') {
            i = quoted_end(sql, i, '"', false);
            if (i == std::string_view::npos) return std::nullopt;
            emit(b, i, sql.substr(b, i - b));
        } else if (starts_number(sql, i)) {
            bool integral;
            i = number_end(sql, i, integral);
            if (i == std::string_view::npos) return std::nullopt;
            emit(b, i, number_marker);
        } else if (ident_start(c)) {
            while (i < n && ident_char(sql[i])) ++i;
            // E'…', B'…', X'…', N'…', U&'…', U&"…": prefixed literals.
            if (i < n && (sql[i] == '\'' || (sql[i] == '&' && i + 1 < n && (sql[i + 1] == '\'' || sql[i + 1] == '"'))))
                return std::nullopt;
            emit(b, i, sql.substr(b, i - b));
        } else if (op_char(c)) {
            // A run of operator characters; "--" and "/*" start comments even inside it.
            while (i < n && op_char(sql[i])) {
                if (i > b && ((sql[i] == '-' && sql[i - 1] == '-') || (sql[i] == '*' && sql[i - 1] == '/'))) {
                    --i;
                    break;
                }
                ++i;
            }
            emit(b, i, sql.substr(b, i - b));
        } else if (c == '(' || c == ')' || c == '[' || c == ']' || c == ',' || c == ';' || c == '.') {
            ++i;
            emit(b, i, sql.substr(b, 1));
        } else {
            return std::nullopt;  // '$' (parameters, dollar quotes), '\\', NUL, …
        }
        last_was_string = is_string;
    }
    return out;
}

std::optional<number_literal> number_literal_at(std::string_view sql, std::size_t at) {
    const std::size_t n = sql.size();
    std::size_t i = at;
    number_literal out;
    if (i < n && sql[i] == '-') {
        out.value = "-";
        ++i;
        while (i < n && is_space(sql[i])) ++i;
    }
    std::size_t b = i;
    if (!starts_number(sql, i)) return std::nullopt;
    bool integral;
    i = number_end(sql, i, integral);
    if (i == std::string_view::npos) return std::nullopt;
    out.value.append(sql.substr(b, i - b));
    out.length = i - at;
    // As the parser's make_const: an integer that fits 32 bits is an
    // integer, one that fits 64 bits a bigint, anything else numeric.
    out.type = "numeric";
    if (integral) {
        bool neg = out.value[0] == '-';
        unsigned __int128 v = 0;
        bool big = false;
        for (std::size_t k = neg ? 1 : 0; k < out.value.size() && !big; ++k) {
            v = v * 10 + unsigned(out.value[k] - '0');
            big = v > (unsigned __int128)(UINT64_MAX);
        }
        if (!big) {
            if (neg ? v <= (unsigned __int128)(INT32_MAX) + 1 : v <= INT32_MAX) out.type = "integer";
            else if (neg ? v <= (unsigned __int128)(INT64_MAX) + 1 : v <= INT64_MAX) out.type = "bigint";
        }
    }
    return out;
}

std::optional<std::size_t> map_offset(const sql_shape& from, const sql_shape& to, std::size_t at) {
    if (at == 0) return 0;
    if (at == from.size) return to.size;
    if (from.tokens.size() != to.tokens.size()) return std::nullopt;
    // The first token that does not begin before `at`.
    auto it = std::lower_bound(from.tokens.begin(), from.tokens.end(), at,
                               [](const sql_shape::token& t, std::size_t v) { return t.begin < v; });
    std::size_t k = static_cast<std::size_t>(it - from.tokens.begin());
    if (k < from.tokens.size() && from.tokens[k].begin == at) return to.tokens[k].begin;
    if (k > 0 && from.tokens[k - 1].end == at) return to.tokens[k - 1].end;
    return std::nullopt;
}

std::optional<std::size_t> map_edge(const sql_shape& from, const sql_shape& to, std::size_t at, edge prefer) {
    if (from.tokens.size() != to.tokens.size()) return std::nullopt;
    auto it = std::lower_bound(from.tokens.begin(), from.tokens.end(), at,
                               [](const sql_shape::token& t, std::size_t v) { return t.begin < v; });
    std::size_t k = static_cast<std::size_t>(it - from.tokens.begin());
    bool ends = k > 0 && from.tokens[k - 1].end == at;
    bool starts = k < from.tokens.size() && from.tokens[k].begin == at;
    if (ends && (!starts || prefer == edge::end)) return to.tokens[k - 1].end;
    if (starts) return to.tokens[k].begin;
    if (at == 0) return 0;
    return std::nullopt;
}

}  // namespace sqltap::capture
