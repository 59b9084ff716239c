#include "replay/pg.hpp"

#include <poll.h>

#include <cstdlib>

#include "capture/rewriter.hpp"

namespace sqltap::replay::pg {
namespace {

std::string one_line(const char* m) {
    std::string s = m ? m : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    for (auto& c : s)
        if (c == '\n') c = ' ';
    return s;
}

}  // namespace

std::string result::sqlstate() const {
    const char* s = PQresultErrorField(r_, PG_DIAG_SQLSTATE);
    return s ? s : "";
}

std::string result::message() const {
    const char* m = PQresultErrorField(r_, PG_DIAG_MESSAGE_PRIMARY);
    return one_line(m ? m : PQresultErrorMessage(r_));
}

std::vector<std::optional<std::string>> result::row(int row) const {
    std::vector<std::optional<std::string>> out;
    for (int i = 0, n = PQnfields(r_); i < n; ++i) out.push_back(value(row, i));
    return out;
}

long result::affected() const {
    const char* n = PQcmdTuples(r_);
    return n && *n ? std::atol(n) : 0;
}

connection::connection(const std::string& conninfo, const std::string& application_name, const std::string& database) {
    // With expand_dbname the first "dbname" is read as a whole conninfo; the
    // later keywords override ones given there.
    const char* keys[] = {"dbname", "application_name", database.empty() ? nullptr : "dbname", nullptr};
    const char* vals[] = {conninfo.c_str(), application_name.c_str(), database.c_str(), nullptr};
    c_ = PQconnectdbParams(keys, vals, 1);
    if (!c_ || PQstatus(c_) != CONNECTION_OK) {
        std::string msg = c_ ? one_line(PQerrorMessage(c_)) : "out of memory";
        PQfinish(c_);
        c_ = nullptr;
        throw error(msg);
    }
    // Notices ("already exists, skipping") are not for sqltapd's log.
    PQsetNoticeProcessor(c_, [](void*, const char*) {}, nullptr);
}

connection::~connection() { PQfinish(c_); }

std::string connection::message() const { return one_line(PQerrorMessage(c_)); }

result connection::try_exec(const std::string& sql, const std::vector<std::optional<std::string>>& params) {
    auto values = c_params(params);
    result r(PQexecParams(c_, sql.c_str(), int(values.size()), nullptr, values.data(), nullptr, nullptr, 0));
    if (!r || PQstatus(c_) != CONNECTION_OK) throw error(message());
    return r;
}

result connection::exec(const std::string& sql, const std::vector<std::optional<std::string>>& params) {
    result r = try_exec(sql, params);
    if (!r.ok()) throw error(r.message(), r.sqlstate());
    return r;
}

void connection::wait(bool for_write) {
    pollfd p{PQsocket(c_), short(POLLIN | (for_write ? POLLOUT : 0)), 0};
    if (p.fd < 0) throw error("the connection to the subscriber is closed");
    ::poll(&p, 1, 1000);
    if (p.revents & (POLLIN | POLLERR | POLLHUP)) {
        if (!PQconsumeInput(c_)) throw error(message());
    }
}

void connection::flush() {
    for (;;) {
        int r = PQflush(c_);
        if (r == 0) return;
        if (r < 0) throw error(message());
        wait(true);
    }
}

result connection::next_result() {
    flush();
    while (PQisBusy(c_)) wait(false);
    result r(PQgetResult(c_));
    if (PQstatus(c_) != CONNECTION_OK) throw error(message());
    return r;
}

std::vector<const char*> c_params(const std::vector<std::optional<std::string>>& params) {
    std::vector<const char*> v;
    v.reserve(params.size());
    for (const auto& p : params) v.push_back(p ? p->c_str() : nullptr);
    return v;
}

std::string quote_ident(const std::string& name) { return capture::quote_ident(name); }

}  // namespace sqltap::replay::pg
