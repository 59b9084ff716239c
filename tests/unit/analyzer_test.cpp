#include <boost/test/unit_test.hpp>

#include <cctype>
#include <random>

#include "capture/analyzer.hpp"
#include "capture/sql_shape.hpp"

using namespace sqltap::capture;
using k = statement_kind;

namespace {

struct expect {
    const char* sql;
    statement_kind kind;
    std::vector<table_name> targets;
    bool returning = false;
    bool modifying_cte = false;
};

const std::vector<expect>& cases() {
    static const std::vector<expect> c = {
        {"SELECT 1", k::read, {}},
        {"select * from t for update", k::read, {}},
        {"SHOW search_path", k::read, {}},
        {"VALUES (1), (2)", k::read, {}},
        {"INSERT INTO s.t (a) VALUES (1) RETURNING id", k::insert, {{"s", "t"}}, true},
        {"insert into t select * from u on conflict (id) do update set a = excluded.a", k::insert, {{"", "t"}}},
        {"WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", k::read, {{"", "t"}}, false, true},
        {"WITH x AS (SELECT 1) UPDATE t SET a = 1", k::update, {{"", "t"}}},
        {"WITH a AS (INSERT INTO log VALUES (1)) UPDATE t SET a = 1 RETURNING a", k::update,
         {{"", "t"}, {"", "log"}}, true, true},
        {"UPDATE t SET a = u.a FROM u WHERE t.id = u.id", k::update, {{"", "t"}}},
        {"DELETE FROM ONLY public.t WHERE id = $1", k::del, {{"public", "t"}}},
        {"MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE", k::merge, {{"", "t"}}},
        {"TRUNCATE a, s.b RESTART IDENTITY", k::truncate, {{"", "a"}, {"s", "b"}}},
        {"COPY t (a, b) FROM STDIN", k::copy_from, {{"", "t"}}},
        {"COPY t TO STDOUT", k::copy_to, {}},
        {"COPY (DELETE FROM t RETURNING *) TO STDOUT", k::copy_to, {{"", "t"}}, false, true},
        {"BEGIN", k::begin, {}},
        {"START TRANSACTION ISOLATION LEVEL SERIALIZABLE", k::begin, {}},
        {"COMMIT", k::commit, {}},
        {"END", k::commit, {}},
        {"ROLLBACK", k::rollback, {}},
        {"ABORT", k::rollback, {}},
        {"SAVEPOINT s1", k::savepoint, {}},
        {"RELEASE SAVEPOINT s1", k::release, {}},
        {"ROLLBACK TO s1", k::rollback_to, {}},
        {"PREPARE TRANSACTION 'g1'", k::prepare_transaction, {}},
        {"COMMIT PREPARED 'g1'", k::commit_prepared, {}},
        {"ROLLBACK PREPARED 'g1'", k::rollback_prepared, {}},
        {"SET search_path = a, b", k::session, {}},
        {"RESET ALL", k::session, {}},
        {"DISCARD ALL", k::session, {}},
        {"LISTEN chan", k::session, {}},
        {"NOTIFY chan, 'x'", k::session, {}},
        {"LOCK TABLE t IN ACCESS EXCLUSIVE MODE", k::session, {}},
        {"CALL p(1)", k::call, {}},
        {"DO $$ BEGIN PERFORM 1; END $$", k::do_block, {}},
        {"EXPLAIN ANALYZE DELETE FROM t", k::explain_analyze, {{"", "t"}}},
        {"EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET a = 1", k::explain_analyze, {{"", "t"}}},
        {"EXPLAIN DELETE FROM t", k::read, {}},
        {"EXPLAIN (ANALYZE false) DELETE FROM t", k::read, {}},
        {"PREPARE p (int) AS UPDATE t SET a = $1", k::prepare_sql, {}},
        {"EXECUTE p(1)", k::execute_sql, {}},
        {"CREATE TABLE t (a int PRIMARY KEY)", k::ddl, {{"", "t"}}},
        {"ALTER TABLE s.t ADD COLUMN b int", k::ddl, {{"s", "t"}}},
        {"DROP TABLE a, s.b", k::ddl, {{"", "a"}, {"s", "b"}}},
        {"CREATE INDEX ON t (a)", k::ddl, {{"", "t"}}},
        {"SELECT * INTO newt FROM t", k::ddl, {{"", "newt"}}},
        {"CREATE TABLE x AS SELECT 1 AS a", k::ddl, {{"", "x"}}},
        {"GRANT SELECT ON t TO public", k::ddl, {}},
        {"COMMENT ON TABLE t IS 'x'", k::ddl, {}},
        {"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", k::ddl, {}},
        {"VACUUM t", k::other, {}},
        {"REFRESH MATERIALIZED VIEW mv", k::other, {}},
    };
    return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(analyzer_suite)

BOOST_AUTO_TEST_CASE(statement_kinds_and_targets) {
    for (const auto& e : cases()) {
        auto a = analyze(e.sql);
        BOOST_TEST_CONTEXT(e.sql) {
            BOOST_TEST_REQUIRE(a.ok);
            BOOST_TEST_REQUIRE(a.statements.size() == 1u);
            const auto& s = a.statements[0];
            BOOST_TEST(to_string(s.kind) == to_string(e.kind));
            BOOST_TEST(s.targets.size() == e.targets.size());
            for (const auto& t : e.targets)
                BOOST_TEST((std::find(s.targets.begin(), s.targets.end(), t) != s.targets.end()),
                           "missing target " << t.schema << "." << t.name);
            BOOST_TEST(s.has_returning == e.returning);
            BOOST_TEST(s.modifying_cte == e.modifying_cte);
        }
    }
}

BOOST_AUTO_TEST_CASE(returning_columns_counted_unless_a_star) {
    auto cols = [](const char* sql) { return analyze(sql).statements.at(0).returning_columns; };
    constexpr auto unknown = statement::npos;
    BOOST_TEST(cols("INSERT INTO t VALUES (1)") == 0u);
    BOOST_TEST(cols("INSERT INTO t VALUES (1) RETURNING id") == 1u);
    BOOST_TEST(cols("UPDATE t SET a = 1 RETURNING id, a * 2, (t.a), f(a), ROW(a, b)") == 5u);
    BOOST_TEST(cols("DELETE FROM t RETURNING id AS x, 'k'") == 2u);
    BOOST_TEST(cols("UPDATE t SET a = 1 RETURNING *") == unknown);
    BOOST_TEST(cols("UPDATE t SET a = 1 RETURNING id, t.*") == unknown);
    BOOST_TEST(cols("DELETE FROM t RETURNING (f(a)).*") == unknown);
    BOOST_TEST(cols("INSERT INTO t VALUES (1) RETURNING s.t.*") == unknown);
}

BOOST_AUTO_TEST_CASE(names_chain_and_inner) {
    BOOST_TEST(analyze("SAVEPOINT my_sp").statements[0].name == "my_sp");
    BOOST_TEST(analyze("COMMIT PREPARED 'gid-7'").statements[0].name == "gid-7");
    BOOST_TEST(analyze("COMMIT AND CHAIN").statements[0].chain);
    BOOST_TEST(analyze("insert into t values (1) on conflict do nothing").statements[0].on_conflict);
    auto p = analyze("PREPARE p AS DELETE FROM s.t").statements[0];
    BOOST_REQUIRE(p.inner);
    BOOST_TEST(to_string(p.inner->kind) == "delete");
    BOOST_TEST(p.may_write());
    BOOST_TEST(!analyze("PREPARE q AS SELECT 1").statements[0].may_write());
}

BOOST_AUTO_TEST_CASE(alias_and_set_columns) {
    auto u = analyze("UPDATE s.t AS x SET a = 1, (b, \"C\") = (2, 3) WHERE id = 4").statements[0];
    BOOST_TEST(u.target_alias == "x");
    BOOST_TEST((u.set_columns == std::vector<std::string>{"a", "b", "C"}));
    BOOST_TEST(analyze("INSERT INTO t AS n VALUES (1)").statements[0].target_alias == "n");
    BOOST_TEST(analyze("DELETE FROM t d").statements[0].target_alias == "d");
    BOOST_TEST(analyze("DELETE FROM t").statements[0].target_alias.empty());
}

BOOST_AUTO_TEST_CASE(several_statements_and_their_text) {
    std::string sql = "BEGIN; INSERT INTO t VALUES (1);\n  UPDATE t SET a = 2 ;COMMIT";
    auto a = analyze(sql);
    BOOST_REQUIRE(a.ok);
    BOOST_REQUIRE(a.statements.size() == 4u);
    std::vector<std::string> kinds;
    for (const auto& s : a.statements) kinds.push_back(to_string(s.kind));
    BOOST_TEST((kinds == std::vector<std::string>{"begin", "insert", "update", "commit"}));
    auto text = [&](int i) {
        std::string t = sql.substr(a.statements[i].location, a.statements[i].length);
        auto b = t.find_first_not_of(" \n");
        auto e = t.find_last_not_of(" \n");
        return t.substr(b, e - b + 1);
    };
    BOOST_TEST(text(0) == "BEGIN");
    BOOST_TEST(text(1) == "INSERT INTO t VALUES (1)");
    BOOST_TEST(text(2) == "UPDATE t SET a = 2");
    BOOST_TEST(text(3) == "COMMIT");
}

BOOST_AUTO_TEST_CASE(empty_and_errors) {
    BOOST_TEST(analyze("").statements.empty());
    BOOST_TEST(analyze("  -- only a comment\n").statements.empty());
    auto bad = analyze("SELEC 1");
    BOOST_TEST(!bad.ok);
    BOOST_TEST(bad.error.find("syntax error") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(pre_check_never_calls_a_write_read_only) {
    for (const auto& e : cases()) {
        auto a = analyze(e.sql);
        if (a.statements[0].may_write()) BOOST_TEST(!certainly_read_only(e.sql), e.sql);
    }
    for (const char* sql : {"SELECT 1; DELETE FROM t", "with d as (delete from t returning *) select * from d",
                            "SELECT * INTO x FROM t", "select 1;;", "SELECT 1; -- x\nUPDATE t SET a = 1",
                            "selectx", "/* SELECT */ DELETE FROM t"})
        BOOST_TEST(!certainly_read_only(sql), sql);
    for (const char* sql : {"SELECT 1", "  /* a /* nested */ comment */ select a from t where b = $1",
                            "SELECT 1;", "select now() ;  -- done", "SELECT\tcount(*) FROM t"})
        BOOST_TEST(certainly_read_only(sql), sql);
}

BOOST_AUTO_TEST_CASE(cache_is_bounded_and_hits) {
    analysis_cache c(2);
    auto a1 = c.get("SELECT a FROM t");
    auto a2 = c.get("SELECT a FROM t");
    BOOST_TEST(a1.get() == a2.get());
    BOOST_TEST(c.hits() == 1u);
    c.get("SELECT b FROM t");
    c.get("SELECT c FROM t");  // evicts the first, the least recently used
    BOOST_TEST(c.size() == 2u);
    c.get("SELECT a FROM t");
    BOOST_TEST(c.misses() == 4u);
}

namespace {
void same_analysis(const analysis& x, const analysis& y, const std::string& sql) {
    BOOST_TEST_CONTEXT(sql) {
        BOOST_TEST(x.ok == y.ok);
        BOOST_REQUIRE_EQUAL(x.statements.size(), y.statements.size());
        for (std::size_t i = 0; i < x.statements.size(); ++i) {
            const statement &a = x.statements[i], &b = y.statements[i];
            BOOST_TEST(int(a.kind) == int(b.kind));
            BOOST_TEST(a.location == b.location);
            BOOST_TEST(a.length == b.length);
            BOOST_TEST((a.targets == b.targets));
            BOOST_TEST(a.target_alias == b.target_alias);
            BOOST_TEST(a.target_location == b.target_location);
            BOOST_TEST((a.set_columns == b.set_columns));
            BOOST_TEST(a.update_from == b.update_from);
            BOOST_TEST((a.returning_stars == b.returning_stars));
            BOOST_TEST(a.has_returning == b.has_returning);
            BOOST_TEST(a.returning_columns == b.returning_columns);
            BOOST_TEST(a.modifying_cte == b.modifying_cte);
            BOOST_TEST(a.on_conflict == b.on_conflict);
            BOOST_TEST(a.chain == b.chain);
            BOOST_TEST(a.name == b.name);
            BOOST_TEST(!a.inner);
            BOOST_TEST(!b.inner);
        }
    }
}
}  // namespace

// A text of a shape seen before gets the analysis the parser gives it, with
// its positions where they are in the new text.
BOOST_AUTO_TEST_CASE(shape_hits_equal_a_fresh_parse) {
    // @ is replaced by literals of different lengths.
    const char* templates[] = {
        "UPDATE pgbench_accounts SET abalance = abalance + @ WHERE aid = @",
        "  /* c */ INSERT INTO h (tid, bid, aid, delta, mtime) VALUES (@, @, @, @, CURRENT_TIMESTAMP) ;  ",
        "BEGIN; UPDATE t SET a = @ WHERE id = @ RETURNING *, a; SELECT * FROM t WHERE b = @;COMMIT",
        "update s.t as x set k = @, v = 'v' where x.k = @ returning x.*",
        "DELETE FROM t WHERE id IN (@, @) -- trailing comment",
        "insert into t values (@, 'it''s') on conflict (id) do update set v = excluded.v returning *",
        "WITH d AS (DELETE FROM t WHERE id = @ RETURNING *) INSERT INTO log SELECT * FROM d",
        "SELECT @::numeric(10, 2), \"Quoted Col\" FROM \"T\" WHERE a <> -@",
        "ROLLBACK; BEGIN ; SELECT @",
    };
    const char* literals[][2] = {{"1", "123456789"}, {"'x'", "'a longer ''quoted'' string'"}, {"1.5e3", ".25"}};
    for (const char* tpl : templates) {
        for (const auto& lit : literals) {
            analysis_cache c;
            auto fill = [&](const char* v) {
                std::string out;
                for (const char* p = tpl; *p; ++p) out += *p == '@' ? std::string(v) : std::string(1, *p);
                return out;
            };
            std::string first = fill(lit[0]), second = fill(lit[1]);
            c.get(first);
            auto got = c.get(second);
            BOOST_TEST(c.shape_hits() == 1u, second);
            same_analysis(*got, analyze(second), second);
        }
    }
}

// Every statement of the classification table, and more with literals in
// many places, with each literal replaced by others of its kind: a shape hit
// always equals what the parser says of the new text (or the text is parsed).
BOOST_AUTO_TEST_CASE(shape_hits_equal_a_fresh_parse_for_random_literals) {
    std::vector<std::string> corpus;
    for (const auto& e : cases()) corpus.emplace_back(e.sql);
    for (const char* extra : {
             "INSERT INTO t (a, b, c) VALUES (1, 'x', 2.5), (-3, '', 1e3) RETURNING a + 1, 'lit'",
             "UPDATE s.t SET a = a * 2, b = 'it''s' WHERE c BETWEEN 1 AND 10 AND d IN ('a', 'b') RETURNING *",
             "DELETE FROM t WHERE ts < now() - interval '5 days' AND n <> 0.5",
             "SELECT a, 'x' || b FROM t WHERE c = 1 LIMIT 10 OFFSET 20; UPDATE t SET a = 2 WHERE b = 'q'",
             "WITH u AS (UPDATE t SET a = 1 WHERE b = 2 RETURNING *) INSERT INTO log SELECT 3, * FROM u",
             "insert into t values (1, 'a') on conflict (id) do update set v = 'b' where t.v <> 'c'",
             "BEGIN; INSERT INTO t VALUES (7); COMMIT; SELECT 8",
             "SELECT * FROM t WHERE a = 1 -- comment with 'quote\nAND b = 2 /* c 'q' */"}) {
        corpus.emplace_back(extra);
    }
    std::mt19937 rng(20261122);
    auto number = [&] {
        std::string n = std::to_string(rng() % 100000);
        if (rng() % 3 == 0) n += "." + std::to_string(rng() % 1000);
        if (rng() % 5 == 0) n += "e" + std::to_string(rng() % 9);
        return n;
    };
    auto string = [&] {
        std::string v = "'";
        for (unsigned i = 0, len = rng() % 12; i < len; ++i) {
            const char pool[] = "abc XYZ;-/*$\"()";
            char c = pool[rng() % (sizeof(pool) - 1)];
            v += c;
        }
        if (rng() % 4 == 0) v += "''";
        return v + "'";
    };
    int hits = 0;
    for (const auto& sql : corpus) {
        auto shape = shape_of(sql);
        if (!shape) continue;
        for (int round = 0; round < 5; ++round) {
            std::string variant;
            std::size_t at = 0;
            for (std::size_t k = 0; k < shape->tokens.size(); ++k) {
                auto [b, e] = shape->tokens[k];
                std::string_view tok = std::string_view(sql).substr(b, e - b);
                bool num = std::isdigit(static_cast<unsigned char>(tok[0])) || tok[0] == '.';
                if (!num && tok[0] != '\'') continue;
                variant += sql.substr(at, b - at);
                variant += num ? number() : string();
                at = e;
            }
            variant += sql.substr(at);
            analysis_cache c;
            c.get(sql);
            auto got = c.get(variant);
            if (c.shape_hits() == 0) continue;  // parsed: nothing to compare
            ++hits;
            same_analysis(*got, analyze(variant), variant);
        }
    }
    BOOST_TEST(hits >= 40);  // ten statements of the corpus, five variants each
}

BOOST_AUTO_TEST_CASE(texts_the_shape_lexer_is_unsure_of_are_parsed) {
    for (const char* sql : {"SELECT 'a\\' FROM t", "SELECT E'x' FROM t", "SELECT $1", "SELECT $$x$$",
                            "SELECT 'a'\n'b'", "SELECT 1abc", "SELECT 1.x", "SELECT 'open", "SELECT \"open",
                            "SELECT 1 /* open", "SELECT U&'d' FROM t", "SELECT x'1f'", "SELECT 0x1f"})
        BOOST_TEST(!shape_of(sql).has_value(), sql);
    // Shapes keep what the parser sees: blanks and comments do not count,
    // literals count by kind only, everything else exactly.
    BOOST_TEST(shape_of("SELECT 1  -- x\n")->key == shape_of("SELECT 9")->key);
    BOOST_TEST(shape_of("select 1")->key != shape_of("SELECT 1")->key);
    BOOST_TEST(shape_of("SELECT 1")->key != shape_of("SELECT '1'")->key);
    BOOST_TEST(shape_of("SELECT a")->key != shape_of("SELECT \"a\"")->key);
    BOOST_TEST(shape_of("SELECT a<-1")->key != shape_of("SELECT a< -1")->key);
    BOOST_TEST(shape_of("SELECT a+--1\n1")->key == shape_of("SELECT a+ 7")->key);
    BOOST_TEST(shape_of("SELECT a+/* c */2")->key == shape_of("SELECT a+2")->key);
    // A line comment ends at a carriage return too, as in PostgreSQL's lexer:
    // what follows it is a statement (found by the fuzzer). A shape that took
    // the DELETE for comment would share the SELECT's read-only analysis.
    BOOST_TEST(shape_of("SELECT 1 --x\r; DELETE FROM t")->key != shape_of("SELECT 2 --x\r; SELECT 3")->key);
    {
        analysis_cache cr;
        cr.get("SELECT 2 --x\r; SELECT 3");
        auto got = cr.get("SELECT 1 --x\r; DELETE FROM t");
        BOOST_REQUIRE(got->statements.size() == 2u);
        BOOST_TEST((got->statements[1].kind == statement_kind::del));
    }
    BOOST_TEST(skip_blank("-- c\rUPDATE", 0) == 5u);
    // Analyses that read literals are not shared by shape.
    analysis_cache c;
    c.get("PREPARE TRANSACTION 'a'");
    c.get("PREPARE TRANSACTION 'b'");
    c.get("SET search_path = 'a'");
    c.get("SET search_path = 'b'");
    c.get("COPY t FROM STDIN");
    BOOST_TEST(c.shape_hits() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
