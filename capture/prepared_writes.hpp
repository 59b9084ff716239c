#pragma once
// Captured writes that a session sends again and again in simple Query
// messages (pgbench, ORMs that inline their values) run as sqltapd's own
// prepared statements on the session's connection:
//
//   PREPARE sqltap_w7(integer, integer) AS UPDATE t SET a = a + $1 WHERE id = $2 RETURNING …
//   EXECUTE sqltap_w7(-12, 345)
//
// The rewritten statement (with its RETURNING list and before-image carrier)
// is parsed and analysed by the publisher once per connection instead of at
// every call; the answers of EXECUTE are those of the statement itself
// (RowDescription, DataRow, the same CommandComplete tag), so the client sees
// what it would have seen. Only number literals become parameters, each of
// the type the parser gives the literal (integer, bigint, numeric: see
// number_literal_at), and only where a parameter of that type means the
// same (statement::value_literals); strings and everything else stay in the
// prepared text. The text, the parameters' types and the catalog entry the
// rewrite used are the key (the session makes it).
//
// A statement is prepared the second time the session sends it (a text seen
// once is not worth a PREPARE). The PREPARE goes in the same message just
// before its first EXECUTE; its text keeps every character of the client's
// at the same place (each $n padded with blanks to its literal's length), so
// an error it meets points where the client's statement would have. The
// client's DEALLOCATE or DISCARD forgets them all (new names afterwards); a
// bounded number is kept per session, the least recently used deallocated.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "capture/analyzer.hpp"
#include "capture/rewriter.hpp"

namespace sqltap::capture {

struct prepared_form {
    std::string key;    // the rewritten statement with $1, $2, … for its literals
    std::string body;   // the same with each $n padded with blanks to its literal's length
    std::string types;  // "integer, bigint, …" for PREPARE
    std::string values; // "-12, 345" for EXECUTE
    // Where $n is longer than its literal: (byte offset in the client's
    // statement, bytes longer), ascending.
    std::vector<std::pair<std::size_t, std::size_t>> growth;
};

// The prepared form of `s`, the one statement of `client` (at offset 0), as
// `rewritten` rewrote it; `shape`, when given, is the shape of `client`.
// Nothing when it has no place for it (a literal the rewrite moved, more than
// max_parameters literals, a text too long).
std::optional<prepared_form> make_prepared_form(std::string_view client, const statement& s,
                                                const rewrite_outcome& rewritten, const sql_shape* shape = nullptr);

// A captured write's client text as a pattern for the texts that differ
// from it only in the numbers that became its parameters (they run as the
// same prepared statement): the text around those literals.
struct write_pattern {
    std::vector<std::string> around;  // before the first literal, between two, after the last
    std::string types;                // as prepared_form::types
};

// The pattern of `client` (`shape` is its shape), whose one statement `s`
// has the prepared form `form`. Nothing when a literal is not a token (or a
// minus and a number) of the shape: only then is it certain that the same
// text with another number there parses the same.
std::optional<write_pattern> make_write_pattern(std::string_view client, const statement& s, const sql_shape& shape,
                                                const prepared_form& form);

// The text without its digits: the texts that may match a pattern share it
// with the pattern's text (a key to find the pattern by).
std::string pattern_key(std::string_view sql);

// The EXECUTE's values ("-12, 345", as prepared_form::values) when `sql` is
// the pattern's text with other numbers of the same types at its literals'
// places (everything else byte for byte the same).
std::optional<std::string> match_write_pattern(const write_pattern& p, std::string_view sql);

class prepared_writes {
public:
    static constexpr std::size_t max_parameters = 256;
    static constexpr std::size_t max_text = 8192;
    explicit prepared_writes(std::size_t capacity = 128, std::size_t seen_capacity = 1024)
        : entries_(capacity), seen_(seen_capacity) {}

    struct use {
        std::string name;
        bool prepare = false;                  // send the PREPARE first
        std::optional<std::string> deallocate; // and, before it, DEALLOCATE this one (evicted)
    };
    // What to send for a statement of this key: nothing the first time the
    // session sends it (send the text); `keep` is held while the statement is.
    std::optional<use> get(const std::string& key, std::shared_ptr<const void> keep);
    // The name of the statement of `key` when its PREPARE completed (null
    // otherwise); it counts as used.
    const std::string* ready(const std::string& key);
    // The PREPARE for `key` completed: EXECUTE alone from now on.
    void prepared(const std::string& key);
    // The client may have dropped prepared statements: prepare anew, under new names.
    void forget();
    std::size_t size() const noexcept { return entries_.size(); }

private:
    struct entry {
        std::string name;
        bool ready = false;
        std::shared_ptr<const void> keep;
    };
    lru_map<entry> entries_;
    lru_map<char> seen_;  // hashes of keys sent once
    std::uint64_t seq_ = 0;  // names are never used twice in a session
};

}  // namespace sqltap::capture
