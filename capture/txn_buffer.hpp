#pragma once
// The changes of one open transaction, with PostgreSQL's savepoint rules:
// SAVEPOINT may reuse a name (the newest one counts); RELEASE name forgets that
// savepoint and every later one, keeping their changes; ROLLBACK TO name drops
// the changes made since it and every later savepoint, and keeps the
// savepoint itself. Nothing here talks to the server: the session feeds it
// what it saw succeed.
#include <string>
#include <string_view>
#include <vector>

#include "capture/record.hpp"

namespace sqltap::capture {

class txn_buffer {
public:
    void add(const relation& rel, change c);
    void add_ddl(std::string sql, std::string search_path);

    void savepoint(std::string name);
    // False when no savepoint has that name (the server will have said so too).
    bool release(std::string_view name);
    bool rollback_to(std::string_view name);

    void clear();  // ROLLBACK, or a failed transaction
    bool empty() const noexcept { return txn_.changes.empty(); }
    std::size_t size() const noexcept { return txn_.changes.size(); }
    std::size_t savepoints() const noexcept { return marks_.size(); }
    // The transaction so far; the buffer is empty afterwards.
    transaction take();

private:
    struct mark {
        std::string name;
        std::size_t changes;  // how many changes came before it
    };
    std::vector<mark>::iterator find(std::string_view name);
    transaction txn_;
    std::vector<mark> marks_;
};

}  // namespace sqltap::capture
