#pragma once
// The changes of one open transaction, with PostgreSQL's savepoint rules:
// SAVEPOINT may reuse a name (the newest one counts); RELEASE name forgets that
// savepoint and every later one, keeping their changes; ROLLBACK TO name drops
// the changes made since it and every later savepoint, and keeps the
// savepoint itself. Nothing here talks to the server: the session feeds it
// what it saw succeed.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <string_view>
#include <vector>

#include "capture/record.hpp"

namespace sqltap::capture {

class txn_buffer {
public:
    void add(const relation& rel, change c);
    // add(make(), c), where `source` stands for the relation: the same
    // source, the same relation, made only the first time (the buffer keeps
    // the relations of the last sources it saw, across transactions).
    template <class Make>
    void add(const std::shared_ptr<const void>& source, Make&& make, change c) {
        if (txn_.changes.capacity() == 0) txn_.changes.reserve(8);
        for (const auto& [p, index] : sources_) {
            if (p == source) {
                c.rel = index;
                txn_.changes.push_back(std::move(c));
                return;
            }
        }
        const relation* rel = nullptr;
        for (const auto& [p, r] : made_)
            if (p == source) rel = &r;
        if (!rel) {
            if (made_.size() >= max_made) made_.clear();
            rel = &made_.emplace_back(source, make()).second;
        }
        c.rel = txn_.relation_index(*rel);
        sources_.emplace_back(source, c.rel);
        txn_.changes.push_back(std::move(c));
    }
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
    std::vector<std::pair<std::shared_ptr<const void>, std::uint32_t>> sources_;  // see add()
    static constexpr std::size_t max_made = 32;
    std::vector<std::pair<std::shared_ptr<const void>, relation>> made_;  // see add()
};

}  // namespace sqltap::capture
