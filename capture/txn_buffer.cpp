#include "capture/txn_buffer.hpp"

namespace sqltap::capture {

void txn_buffer::add(const relation& rel, change c) {
    c.rel = txn_.relation_index(rel);
    txn_.changes.push_back(std::move(c));
}

void txn_buffer::add_ddl(std::string sql, std::string search_path) {
    change c;
    c.kind = op::ddl;
    c.sql = std::move(sql);
    c.search_path = std::move(search_path);
    txn_.changes.push_back(std::move(c));
}

void txn_buffer::savepoint(std::string name) { marks_.push_back({std::move(name), txn_.changes.size()}); }

std::vector<txn_buffer::mark>::iterator txn_buffer::find(std::string_view name) {
    for (auto it = marks_.end(); it != marks_.begin();) {
        --it;
        if (it->name == name) return it;
    }
    return marks_.end();
}

bool txn_buffer::release(std::string_view name) {
    auto it = find(name);
    if (it == marks_.end()) return false;
    marks_.erase(it, marks_.end());
    return true;
}

bool txn_buffer::rollback_to(std::string_view name) {
    auto it = find(name);
    if (it == marks_.end()) return false;
    txn_.changes.resize(it->changes);
    marks_.erase(it + 1, marks_.end());
    return true;
}

void txn_buffer::clear() {
    txn_ = transaction{};
    marks_.clear();
    sources_.clear();
}

transaction txn_buffer::take() {
    transaction t = std::move(txn_);
    clear();
    return t;
}

}  // namespace sqltap::capture
