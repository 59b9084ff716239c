#pragma once
// Thin RAII over LMDB, following lmdb.h's contract: one write transaction at a
// time; a transaction and its cursors belong to one thread; MDB_val data dies
// with its transaction; commit frees the handle even when it fails.
#include <lmdb.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace sqltap::capture::lmdb {

class error : public std::runtime_error {
public:
    error(int code, const std::string& what)
        : std::runtime_error(what + ": " + mdb_strerror(code)), code_(code) {}
    int code() const noexcept { return code_; }

private:
    int code_;
};

inline void check(int rc, const char* what) {
    if (rc != MDB_SUCCESS) throw error(rc, what);
}

inline MDB_val val(std::string_view s) {
    return MDB_val{s.size(), const_cast<char*>(s.data())};
}
inline std::string_view view(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

class env {
public:
    env() { check(mdb_env_create(&h_), "mdb_env_create"); }
    ~env() {
        if (h_) mdb_env_close(h_);
    }
    env(const env&) = delete;
    env& operator=(const env&) = delete;
    MDB_env* get() const noexcept { return h_; }

private:
    MDB_env* h_ = nullptr;
};

class txn {
public:
    txn(MDB_env* e, unsigned flags, MDB_txn* parent = nullptr) {
        check(mdb_txn_begin(e, parent, flags, &h_), "mdb_txn_begin");
    }
    ~txn() {
        if (h_) mdb_txn_abort(h_);
    }
    txn(const txn&) = delete;
    txn& operator=(const txn&) = delete;
    MDB_txn* get() const noexcept { return h_; }
    void commit() { check(mdb_txn_commit(std::exchange(h_, nullptr)), "mdb_txn_commit"); }
    void abort() noexcept {
        if (h_) mdb_txn_abort(std::exchange(h_, nullptr));
    }

private:
    MDB_txn* h_ = nullptr;
};

// Close it before its transaction ends: LMDB frees a write transaction's
// cursors at commit/abort (closing them again is a double free), while a
// read-only transaction's cursors must be closed explicitly.
class cursor {
public:
    cursor(MDB_txn* t, MDB_dbi dbi) { check(mdb_cursor_open(t, dbi, &h_), "mdb_cursor_open"); }
    ~cursor() { mdb_cursor_close(h_); }
    cursor(const cursor&) = delete;
    cursor& operator=(const cursor&) = delete;
    // false at the end (MDB_NOTFOUND); throws on other errors.
    bool get(MDB_val& k, MDB_val& v, MDB_cursor_op op) {
        int rc = mdb_cursor_get(h_, &k, &v, op);
        if (rc == MDB_NOTFOUND) return false;
        check(rc, "mdb_cursor_get");
        return true;
    }
    // Deletes the entry the cursor is on.
    void del() { check(mdb_cursor_del(h_, 0), "mdb_cursor_del"); }

private:
    MDB_cursor* h_ = nullptr;
};

}  // namespace sqltap::capture::lmdb
