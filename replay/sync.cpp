#include "replay/sync.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <stdexcept>

#include "capture/catalog.hpp"
#include "replay/pg.hpp"
#include "replay/progress.hpp"

extern char** environ;

namespace sqltap::replay {
namespace {

struct table_to_copy {
    std::string schema, name;
    char kind = 'r';
    std::vector<std::string> columns;  // copied (not generated; the rule's list plus the key)
    std::string filter;                // the rule's row filter
    bool exists = false;               // on the subscriber
};

std::string qualified(const table_to_copy& t) { return pg::quote_ident(t.schema) + "." + pg::quote_ident(t.name); }

void put_mark(capture::change_log& log, const std::string& key, const std::string& value) {
    if (auto ec = store(log, key, value)) throw std::runtime_error("cannot write beside the change log: " + ec.message());
}

// A conninfo string for pg_dump's -d: every option of `conninfo` but the
// password (which goes to PGPASSWORD, not to the command line) and with the
// database replaced.
std::string dump_conninfo(const std::string& conninfo, const std::string& database, std::string& password) {
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
    if (!opts) {
        std::string m = err ? err : "out of memory";
        PQfreemem(err);
        throw std::runtime_error("[publisher] admin_conninfo cannot be read: " + m);
    }
    std::string out;
    auto add = [&](const char* k, const std::string& v) {
        out += std::string(out.empty() ? "" : " ") + k + "='";
        for (char ch : v) {
            if (ch == '\'' || ch == '\\') out += '\\';
            out += ch;
        }
        out += "'";
    };
    for (PQconninfoOption* o = opts; o->keyword; ++o) {
        if (!o->val) continue;
        std::string k = o->keyword;
        if (k == "password") password = o->val;
        else if (k != "dbname") add(o->keyword, o->val);
    }
    PQconninfoFree(opts);
    add("dbname", database);
    return out;
}

// Runs pg_dump --schema-only for the tables, under the exported snapshot;
// returns its script.
std::string dump_definitions(const sync_options& o, const std::vector<const table_to_copy*>& tables,
                             const std::string& snapshot_name) {
    std::string password;
    std::string conninfo = dump_conninfo(o.publisher_conninfo, o.subscriber.database, password);
    std::vector<std::string> args = {o.pg_dump, "--schema-only", "--no-owner", "--no-privileges",
                                     "--no-publications", "--no-subscriptions", "--no-comments",
                                     "--snapshot=" + snapshot_name, "-d", conninfo};
    for (const auto* t : tables) {
        args.push_back("-t");
        args.push_back("\"" + t->schema + "\".\"" + t->name + "\"");
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e)
        if (std::string_view(*e).rfind("PGPASSWORD=", 0) != 0) env_strings.emplace_back(*e);
    if (!password.empty()) env_strings.push_back("PGPASSWORD=" + password);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);

    int out[2], errp[2];
    if (pipe(out) != 0 || pipe(errp) != 0) throw std::runtime_error("cannot run pg_dump: pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addclose(&fa, errp[0]);
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, o.pg_dump.c_str(), &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(errp[1]);
    if (rc != 0) {
        close(out[0]);
        close(errp[0]);
        throw std::runtime_error("cannot run " + o.pg_dump + " (it creates the missing tables): " +
                                 std::string(std::strerror(rc)));
    }
    // stderr is small; read stdout to the end first with stderr drained by a thread.
    std::string script, errors;
    auto drain = std::async(std::launch::async, [&] {
        char buf[4096];
        ssize_t n;
        while ((n = read(errp[0], buf, sizeof buf)) > 0) errors.append(buf, std::size_t(n));
    });
    char buf[65536];
    ssize_t n;
    while ((n = read(out[0], buf, sizeof buf)) > 0) script.append(buf, std::size_t(n));
    drain.get();
    close(out[0]);
    close(errp[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        while (!errors.empty() && (errors.back() == '\n' || errors.back() == ' ')) errors.pop_back();
        throw std::runtime_error("pg_dump could not read the publisher's table definitions: " + errors);
    }
    // pg_dump writes psql's \restrict/\unrestrict around its script (a guard
    // against meta-commands in object names); the server takes SQL only.
    std::string sql;
    std::size_t at = 0;
    while (at < script.size()) {
        std::size_t nl = script.find('\n', at);
        std::size_t end = nl == std::string::npos ? script.size() : nl + 1;
        std::string_view line(script.data() + at, end - at);
        if (line.starts_with("\\restrict ") || line.starts_with("\\unrestrict ")) {
            at = end;
            continue;
        }
        if (line.starts_with("\\"))
            throw std::runtime_error("pg_dump wrote a psql command sqltapd does not run: " + std::string(line));
        sql.append(line);
        at = end;
    }
    return sql;
}

// One table's rows, streamed from the publisher's COPY OUT into the
// subscriber's COPY IN. Returns the row count.
std::uint64_t copy_table(pg::connection& pub, pg::connection& sub, const table_to_copy& t) {
    std::string cols;
    for (const auto& c : t.columns) cols += (cols.empty() ? "" : ", ") + pg::quote_ident(c);
    std::string select = "SELECT " + cols + " FROM " + std::string(t.kind == 'p' ? "" : "ONLY ") + qualified(t);
    if (!t.filter.empty()) select += " WHERE (" + t.filter + ")";
    pg::result out(PQexec(pub.get(), ("COPY (" + select + ") TO STDOUT").c_str()));
    if (out.status() != PGRES_COPY_OUT)
        throw std::runtime_error("reading " + qualified(t) + " on the publisher failed: " + out.message());
    pg::result in(PQexec(sub.get(), ("COPY " + qualified(t) + " (" + cols + ") FROM STDIN").c_str()));
    if (in.status() != PGRES_COPY_IN)
        throw std::runtime_error("writing " + qualified(t) + " on the subscriber failed: " + in.message());
    std::uint64_t rows = 0;
    for (;;) {
        char* buf = nullptr;
        int n = PQgetCopyData(pub.get(), &buf, 0);
        if (n == -1) break;
        if (n < 0) throw std::runtime_error("reading " + qualified(t) + " on the publisher failed: " + pub.message());
        int ok = PQputCopyData(sub.get(), buf, n);
        PQfreemem(buf);
        if (ok != 1) throw std::runtime_error("writing " + qualified(t) + " on the subscriber failed: " + sub.message());
        ++rows;
    }
    for (pg::result r(PQgetResult(pub.get())); r; r = pg::result(PQgetResult(pub.get())))
        if (!r.ok()) throw std::runtime_error("reading " + qualified(t) + " on the publisher failed: " + r.message());
    if (PQputCopyEnd(sub.get(), nullptr) != 1)
        throw std::runtime_error("writing " + qualified(t) + " on the subscriber failed: " + sub.message());
    for (pg::result r(PQgetResult(sub.get())); r; r = pg::result(PQgetResult(sub.get())))
        if (!r.ok()) throw std::runtime_error("writing " + qualified(t) + " on the subscriber failed: " + r.message());
    return rows;
}

// The publisher's tables this subscriber takes, each described (keys, rule)
// as capture describes it (read in the sync's snapshot).
std::vector<table_to_copy> tables_to_copy(const sync_options& o, pg::connection& pub) {
    capture::table_filter captured(o.capture_tables, o.capture_exclude);
    capture::table_filter wanted(o.subscriber.tables, o.subscriber.exclude);
    auto names = pub.exec(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence <> 't' AND " +
        captured.sql_condition("n.nspname::text", "c.relname::text") + " AND " +
        wanted.sql_condition("n.nspname::text", "c.relname::text") + " ORDER BY 1, 2");
    std::vector<table_to_copy> out;
    for (int i = 0; i < names.rows(); ++i) {
        auto r = pub.exec(capture::table_query({names.text(i, 0), names.text(i, 1)}, {}));
        std::vector<capture::text_row> rows;
        for (int k = 0; k < r.rows(); ++k) rows.push_back(r.row(k));
        auto info = capture::table_from_rows(rows);
        if (!info) throw std::runtime_error("the publisher's table " + names.text(i, 0) + "." + names.text(i, 1) +
                                            " cannot be described");
        for (const auto& rule : o.rules)
            if (rule.schema == info->schema && rule.table == info->name) capture::apply_rule(*info, rule);
        table_to_copy t;
        t.schema = info->schema;
        t.name = info->name;
        t.kind = info->kind;
        t.filter = info->row_filter;
        for (const auto& c : info->columns)
            if (!c.generated) t.columns.push_back(c.name);  // generated: the subscriber computes it
        out.push_back(std::move(t));
    }
    return out;
}

}  // namespace

sync_report initial_sync(const sync_options& o, capture::change_log& log) {
    auto began = std::chrono::steady_clock::now();
    auto say = [&](const std::string& m) {
        if (o.say) o.say(m);
    };
    const std::string& name = o.subscriber.name;
    const std::string app = "sqltap-replay/" + o.node_name;
    sync_report rep;

    pg::connection sub(o.subscriber.conninfo, app);
    setup_subscriber(sub);
    read_progress_row(sub, name, log.log_id());
    // 1. Appliers stop and wait.
    sub.exec("UPDATE sqltap.progress SET syncing = true, epoch = epoch + 1 WHERE subscriber = $1", {name});
    bool marked = true;
    try {
        // 2. The position, held against purging.
        for (;;) {
            rep.start_lsn = log.visible_end() - 1;
            put_mark(log, sync_key(name), "running " + std::to_string(rep.start_lsn));
            if (log.purged_below() <= rep.start_lsn + 1) break;  // a purge went past it meanwhile: again
        }
        // 3. The publisher's snapshot.
        pg::connection pub(o.publisher_conninfo, "sqltap-sync", o.subscriber.database);
        pub.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
        auto snap = pub.exec("SELECT pg_current_snapshot()::text, pg_export_snapshot()");
        std::string snapshot_text = snap.text(0, 0), snapshot_name = snap.text(0, 1);
        say("copying at log position " + std::to_string(rep.start_lsn) + ", publisher snapshot " + snapshot_text);
        auto tables = tables_to_copy(o, pub);
        if (tables.empty())
            throw std::runtime_error("no table of database " + o.subscriber.database +
                                     " is both captured and taken by subscriber " + name);

        // 4. One subscriber transaction.
        sub.exec("BEGIN");
        sub.exec("SET LOCAL session_replication_role = " + o.subscriber.replication_role);
        auto row = sub.exec("SELECT syncing FROM sqltap.progress WHERE subscriber = $1 FOR UPDATE", {name});
        if (row.rows() != 1 || row.text(0, 0) != "t")
            throw std::runtime_error("another initial sync of " + name + " ended meanwhile; run this one again");
        std::vector<const table_to_copy*> missing;
        std::vector<std::string> schemas;
        for (auto& t : tables) {
            t.exists = !sub.exec("SELECT to_regclass($1) IS NULL", {qualified(t)}).text(0, 0).starts_with("t");
            if (t.exists) continue;
            missing.push_back(&t);
            if (std::find(schemas.begin(), schemas.end(), t.schema) == schemas.end()) schemas.push_back(t.schema);
        }
        if (!missing.empty()) {
            for (const auto& s : schemas) sub.exec("CREATE SCHEMA IF NOT EXISTS " + pg::quote_ident(s));
            std::string script = dump_definitions(o, missing, snapshot_name);
            pg::result r(PQexec(sub.get(), script.c_str()));
            if (!r.ok())
                throw std::runtime_error("creating the missing tables on the subscriber failed: " + r.message());
            rep.created = missing.size();
            for (const auto* t : missing) say("created " + t->schema + "." + t->name);
        }
        std::string list;
        for (const auto& t : tables) list += (list.empty() ? "" : ", ") + qualified(t);
        sub.exec("TRUNCATE " + list);
        for (const auto& t : tables) {
            std::uint64_t n = copy_table(pub, sub, t);
            rep.rows += n;
            say("copied " + t.schema + "." + t.name + ": " + std::to_string(n) + " rows");
        }
        rep.tables = tables.size();
        sub.exec("UPDATE sqltap.progress SET applied_lsn = $2, log_id = $3, syncing = false, sync_snapshot = $4,"
                 " synced_at = now(), applied_at = now() WHERE subscriber = $1",
                 {name, std::to_string(rep.start_lsn), log.log_id(), snapshot_text});
        sub.exec("COMMIT");
        marked = false;
        pub.exec("COMMIT");
        // 5. Appliers go on from the position.
        put_mark(log, sync_key(name), "done " + std::to_string(rep.start_lsn));
    } catch (...) {
        // The subscriber as it was: its applier resumes where it stood.
        try {
            if (PQtransactionStatus(sub.get()) != PQTRANS_IDLE) sub.try_exec("ROLLBACK");
            if (marked) sub.try_exec("UPDATE sqltap.progress SET syncing = false WHERE subscriber = $1", {name});
            put_mark(log, sync_key(name), "");
        } catch (...) {
        }
        throw;
    }
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    return rep;
}

}  // namespace sqltap::replay
