#pragma once
// The shape of an SQL text: its tokens, with the values of number and string
// literals left out. Two texts of one shape differ only in those values, so
// PostgreSQL's parser gives them the same statements, of the same kinds, on
// the same tables, at the same token positions. The analysis cache uses it to
// analyse statements whose literals change at every call (a simple-protocol
// client that inlines its values) without running the parser again.
//
// The lexer knows only what it can be certain of; a text holding anything
// else (a backslash in a string, a dollar quote or parameter, E'' and other
// prefixed strings, adjacent strings, a number run into a name, an
// unterminated quote or comment) has no shape and is parsed.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sqltap::capture {

struct sql_shape {
    std::string key;  // the tokens, literal values replaced by a marker of their kind
    struct token {
        std::uint32_t begin, end;  // byte range in the text
    };
    std::vector<token> tokens;
    std::size_t size = 0;  // of the text
};

std::optional<sql_shape> shape_of(std::string_view sql);

// Where byte offset `at` of the text of shape `from` lies in the text of
// shape `to` (same key): at the text's start or end, or at the start or end
// of a token. Nothing when `at` is elsewhere (inside a literal, or in the
// middle of blanks), where texts of one shape may differ.
std::optional<std::size_t> map_offset(const sql_shape& from, const sql_shape& to, std::size_t at);

// For an edit at byte offset `at` of the text of shape `from`: where it goes
// in the text of shape `to` (same key). At a token's end, after the same
// token's end (not the text's end: a comment may follow there); at a
// token's start, before the same token; where one token ends and the next
// starts, as `prefer`s; else at the start of the text. Nothing when `at` is
// elsewhere. (The start of a replaced range prefers a token's start, its
// end a token's end.)
enum class edge { start, end };

// The number literal that starts at sql[at]: an optional "-" (PostgreSQL's
// parser folds a minus into the number it precedes) and blanks, then a
// number. Nothing when sql[at] starts no such literal (a comment or a
// parenthesis after the minus, a number run into a name).
struct number_literal {
    std::size_t length = 0;      // bytes from `at`
    std::string value;           // "-" when negated, then the number as written
    std::string_view type;       // how the parser types it: "integer", "bigint" or "numeric"
};
std::optional<number_literal> number_literal_at(std::string_view sql, std::size_t at);
std::optional<std::size_t> map_edge(const sql_shape& from, const sql_shape& to, std::size_t at, edge prefer);

}  // namespace sqltap::capture
