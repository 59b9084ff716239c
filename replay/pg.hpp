#pragma once
// Thin RAII over libpq for the replay engine's subscriber connections: a
// connection, a result, and the waits of a nonblocking pipeline.
#include <libpq-fe.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace sqltap::replay::pg {

// A failure talking to a server; `sqlstate` is empty when the connection itself failed.
class error : public std::runtime_error {
public:
    error(const std::string& what, std::string sqlstate = {})
        : std::runtime_error(what), sqlstate_(std::move(sqlstate)) {}
    const std::string& sqlstate() const noexcept { return sqlstate_; }
    bool connection_lost() const noexcept { return sqlstate_.empty() || sqlstate_.rfind("08", 0) == 0 || sqlstate_.rfind("57P", 0) == 0; }

private:
    std::string sqlstate_;
};

class result {
public:
    result() = default;
    explicit result(PGresult* r) : r_(r) {}
    ~result() { PQclear(r_); }
    result(result&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
    result& operator=(result&& o) noexcept {
        if (this != &o) {
            PQclear(r_);
            r_ = std::exchange(o.r_, nullptr);
        }
        return *this;
    }
    PGresult* get() const noexcept { return r_; }
    explicit operator bool() const noexcept { return r_ != nullptr; }
    ExecStatusType status() const noexcept { return PQresultStatus(r_); }
    bool ok() const noexcept {
        auto s = status();
        return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
    }
    std::string sqlstate() const;
    std::string message() const;  // primary message, one line
    int rows() const noexcept { return PQntuples(r_); }
    bool null(int row, int col) const noexcept { return PQgetisnull(r_, row, col); }
    std::string text(int row, int col) const { return PQgetvalue(r_, row, col); }
    std::optional<std::string> value(int row, int col) const {
        if (null(row, col)) return std::nullopt;
        return std::string(PQgetvalue(r_, row, col), PQgetlength(r_, row, col));
    }
    std::vector<std::optional<std::string>> row(int row) const;  // every column's value(row, …)
    long affected() const;  // rows of an INSERT/UPDATE/DELETE tag

private:
    PGresult* r_ = nullptr;
};

class connection {
public:
    // Connects (blocking). The conninfo may be a libpq keyword string or URI;
    // application_name is set to the given one, and the database to
    // `database` when it is not empty. Throws error.
    connection(const std::string& conninfo, const std::string& application_name, const std::string& database = {});
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    PGconn* get() const noexcept { return c_; }
    std::string message() const;  // the connection's last error, one line

    // Runs a statement outside pipeline mode; throws error unless it succeeds.
    result exec(const std::string& sql, const std::vector<std::optional<std::string>>& params = {});
    // Same, returning a failed result instead of throwing on an SQL error
    // (connection failures still throw).
    result try_exec(const std::string& sql, const std::vector<std::optional<std::string>>& params = {});

    // Pipeline: sends what libpq buffered, reading input meanwhile so that
    // neither side blocks on a full socket; then the next result (nullptr
    // between one query's results and the next's, as PQgetResult).
    void flush();
    result next_result();

private:
    void wait(bool for_write);
    PGconn* c_ = nullptr;
};

// Text-format parameter values for libpq: nullptr for NULL. The pointers
// live as long as `params`.
std::vector<const char*> c_params(const std::vector<std::optional<std::string>>& params);

// capture::quote_ident, for the SQL the replay engine writes.
std::string quote_ident(const std::string& name);

}  // namespace sqltap::replay::pg
