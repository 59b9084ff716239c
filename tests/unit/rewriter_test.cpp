#include <boost/test/unit_test.hpp>

#include "capture/rewriter.hpp"
#include "capture_fixtures.hpp"

using namespace sqltap::capture;
using sqltap::capture::testing::table_t;

namespace {

rewrite_outcome run(const std::string& sql, const table_info& t) {
    auto a = analyze(sql);
    BOOST_REQUIRE(a.ok);
    return rewrite(sql, a, [&](const statement& s) -> const table_info* {
        for (const auto& target : s.targets)
            if (target.name == t.name) return &t;
        return nullptr;
    });
}

// An added column in text form: the name alone where the table is the only
// relation in scope (ref empty), else qualified.
std::string col(const std::string& ref, const std::string& name) {
    std::string c = (ref.empty() ? "" : "\"" + ref + "\".") + "\"" + name + "\"";
    return "CASE WHEN num_nulls(" + c + ") = 0 THEN format('%s', " + c + ") END";
}
const std::string added = col("", "id") + ", " + col("", "a") + ", pg_current_xact_id()::text";

}  // namespace

BOOST_AUTO_TEST_SUITE(rewriter_suite)

BOOST_AUTO_TEST_CASE(last_token_end_skips_comments_not_literals) {
    auto end = [](std::string_view s) { return std::string(s.substr(0, last_token_end(s, 0, s.size()))); };
    BOOST_TEST(end("INSERT INTO t VALUES (1) -- note") == "INSERT INTO t VALUES (1)");
    BOOST_TEST(end("INSERT INTO t VALUES (1) /* a /* nested */ c */ \n") == "INSERT INTO t VALUES (1)");
    BOOST_TEST(end("VALUES ('a -- b')  ") == "VALUES ('a -- b')");
    BOOST_TEST(end("VALUES ('it''s') -- x") == "VALUES ('it''s')");
    BOOST_TEST(end("VALUES (E'\\' -- still a string') --") == "VALUES (E'\\' -- still a string')");
    BOOST_TEST(end("VALUES ($$ -- $$) ") == "VALUES ($$ -- $$)");
    BOOST_TEST(end("VALUES ($q$ $$ -- $q$)") == "VALUES ($q$ $$ -- $q$)");
    BOOST_TEST(end("SELECT \"a--b\" -- c") == "SELECT \"a--b\"");
    // "$" inside a name starts no dollar quote (found by the fuzzer).
    BOOST_TEST(end("SELECT a$q$2 -- c $q$") == "SELECT a$q$2");
    BOOST_TEST(end("SELECT 1 --c\rFROM t --d") == "SELECT 1 --c\rFROM t");
    BOOST_TEST(end("WHERE id = $1 -- p") == "WHERE id = $1");
}

BOOST_AUTO_TEST_CASE(insert_update_delete) {
    auto r = run("INSERT INTO t (a) VALUES ('x') -- trailing", table_t());
    BOOST_TEST(r.sql == "INSERT INTO t (a) VALUES ('x') RETURNING " + added + " -- trailing");
    BOOST_REQUIRE(r.plans[0]);
    BOOST_TEST(r.plans[0]->added == 3u);
    BOOST_TEST(!r.plans[0]->client_returning);
    BOOST_TEST(run("UPDATE t SET a = 'y' WHERE id = 1", table_t()).sql ==
               "UPDATE t SET a = 'y' WHERE id = 1 RETURNING " + added);
    BOOST_TEST(run("DELETE FROM t WHERE id = 1", table_t()).sql == "DELETE FROM t WHERE id = 1 RETURNING " + added);
}

BOOST_AUTO_TEST_CASE(client_returning_and_alias) {
    auto r = run("INSERT INTO t AS n (a) VALUES ('x') RETURNING n.id", table_t());
    BOOST_TEST(r.sql == "INSERT INTO t AS n (a) VALUES ('x') RETURNING n.id, " + col("", "id") + ", " + col("", "a") +
                            ", pg_current_xact_id()::text");
    BOOST_TEST(r.plans[0]->client_returning);
}

BOOST_AUTO_TEST_CASE(on_conflict_adds_the_inserted_flag) {
    auto r = run("INSERT INTO t VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET a = excluded.a", table_t());
    BOOST_TEST(r.sql.find(col("", "a") + ", (xmax = 0)::text, pg_current_xact_id()::text") != std::string::npos, r.sql);
    BOOST_TEST(r.plans[0]->inserted_flag);
    BOOST_TEST(r.plans[0]->added == 4u);
}

BOOST_AUTO_TEST_CASE(several_statements_keep_their_places) {
    std::string sql = "INSERT INTO t VALUES (1, 'a'); SELECT 1; DELETE FROM t WHERE id = 1;UPDATE u SET x = 1";
    auto r = run(sql, table_t());
    BOOST_TEST(r.sql == "INSERT INTO t VALUES (1, 'a') RETURNING " + added + "; SELECT 1; DELETE FROM t WHERE id = 1 RETURNING " +
                            added + ";UPDATE u SET x = 1");
    BOOST_TEST(r.plans.size() == 4u);
    BOOST_TEST(r.plans[0].has_value());
    BOOST_TEST(!r.plans[1].has_value());
    BOOST_TEST(r.plans[2].has_value());
    BOOST_TEST(!r.plans[3].has_value());  // u is not captured
}

BOOST_AUTO_TEST_CASE(what_cannot_be_captured_yet_is_said) {
    BOOST_TEST(run("UPDATE t SET id = id + 1 FROM u WHERE u.x = t.id", table_t()).unsupported.find("key column \"id\"") !=
               std::string::npos);
    auto nokey = table_t();
    nokey.key = key_source::all_columns;
    nokey.key_columns = {0, 1};
    BOOST_TEST(run("UPDATE t SET a = 'x'", nokey).unsupported.find("no primary key") != std::string::npos);
    BOOST_TEST(run("INSERT INTO t VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET id = excluded.id + 10", table_t())
                   .unsupported.find("ON CONFLICT DO UPDATE that changes key column \"id\"") != std::string::npos);
    BOOST_TEST(run("INSERT INTO t VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET a = excluded.a", table_t())
                   .unsupported.empty());
    BOOST_TEST(run("WITH d AS (DELETE FROM t RETURNING *) SELECT count(*) FROM d", table_t()).unsupported.find("WITH") !=
               std::string::npos);
    BOOST_TEST(run("MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE", table_t()).unsupported.find("MERGE") !=
               std::string::npos);
    BOOST_TEST(run("EXPLAIN ANALYZE DELETE FROM t", table_t()).unsupported.find("EXPLAIN") != std::string::npos);
    BOOST_TEST(run("COPY (DELETE FROM t RETURNING *) TO STDOUT", table_t()).unsupported.find("WITH") != std::string::npos);
    BOOST_TEST(run("UPDATE t SET a = 'x'", table_t()).unsupported.empty());
    BOOST_TEST(run("WITH d AS (DELETE FROM other RETURNING *) SELECT 1", table_t()).unsupported.empty());
}

// Where other relations are in scope (UPDATE … FROM, DELETE … USING), or
// sqltapd joins its own, the added columns name the table.
BOOST_AUTO_TEST_CASE(columns_are_qualified_where_other_relations_are_in_scope) {
    auto d = run("DELETE FROM t USING u WHERE t.id = u.id", table_t());
    BOOST_TEST(d.sql == "DELETE FROM t USING u WHERE t.id = u.id RETURNING " + col("t", "id") + ", " + col("t", "a") +
                            ", pg_current_xact_id()::text",
               d.sql);
    auto u = run("UPDATE t AS x SET a = u.a FROM u WHERE u.id = x.id", table_t());
    BOOST_TEST(u.sql.find("RETURNING " + col("x", "id") + ", " + col("x", "a")) != std::string::npos, u.sql);
    auto k = run("UPDATE t SET id = id + 1 WHERE id = 1", table_t());  // the key changes: sqltapd's join
    BOOST_TEST(k.sql.find("RETURNING " + col("t", "id") + ", " + col("t", "a")) != std::string::npos, k.sql);
    // A simple Query's results are text: the xid8 needs no cast.
    auto a = analyze("DELETE FROM t WHERE id = 1");
    auto t = table_t();
    auto n = rewrite("DELETE FROM t WHERE id = 1", a, [&](const statement&) { return &t; }, column_form::native);
    BOOST_TEST(n.sql == "DELETE FROM t WHERE id = 1 RETURNING \"id\", \"a\", pg_current_xact_id()", n.sql);
    // Once the session knows the transaction's xid, writes need not return it.
    auto w = rewrite("DELETE FROM t WHERE id = 1", a, [&](const statement&) { return &t; }, column_form::native, false);
    BOOST_TEST(w.sql == "DELETE FROM t WHERE id = 1 RETURNING \"id\", \"a\"", w.sql);
    BOOST_REQUIRE(w.plans[0]);
    BOOST_TEST(!w.plans[0]->xid);
    BOOST_TEST(w.plans[0]->added == 2u);
    BOOST_TEST(n.plans[0]->added == 3u);
}

BOOST_AUTO_TEST_CASE(rewritten_text_parses) {
    for (const char* sql : {"INSERT INTO t (a) VALUES ('x') -- c", "UPDATE t SET a = $1 WHERE id = $2",
                            "DELETE FROM t USING u WHERE t.id = u.id RETURNING t.*",
                            "INSERT INTO t SELECT * FROM t2 ON CONFLICT DO NOTHING"}) {
        auto r = run(sql, table_t());
        auto again = analyze(r.sql);
        BOOST_TEST(again.ok, r.sql << ": " << again.error);
        BOOST_TEST(again.statements[0].has_returning, r.sql);
    }
}

BOOST_AUTO_TEST_CASE(copy_from_goes_through_a_staging_table) {
    auto t = table_t();
    std::string sql = "COPY public.t (a) FROM STDIN WITH (FORMAT csv); SELECT 1";
    auto r = run(sql, t);
    BOOST_REQUIRE(r.copies[0].has_value());
    BOOST_TEST(!r.plans[0].has_value());
    BOOST_TEST(r.copies[0]->insert.added == 3u);
    std::string added_real = col("", "id") + ", " + col("", "a") + ", pg_current_xact_id()::text";
    BOOST_TEST(r.sql == "CREATE TEMP TABLE \"t\" AS SELECT * FROM \"public\".\"t\" WITH NO DATA;"
                        "COPY pg_temp.\"t\" (a) FROM STDIN WITH (FORMAT csv);"
                        "INSERT INTO \"public\".\"t\" (a) SELECT a FROM pg_temp.\"t\" RETURNING " +
                            added_real + ";DROP TABLE pg_temp.\"t\"; SELECT 1");
    // Every statement of the expansion parses, and they are four plus the SELECT.
    auto again = analyze(r.sql);
    BOOST_REQUIRE(again.ok);
    BOOST_TEST(again.statements.size() == 5u);
    // Without a column list: every column.
    auto all = run("copy \"t\" from stdin", t);
    BOOST_TEST(all.sql.find("INSERT INTO \"public\".\"t\" SELECT * FROM pg_temp.\"t\" RETURNING") != std::string::npos,
               all.sql);
    BOOST_TEST(all.sql.find("copy pg_temp.\"t\" from stdin") != std::string::npos, all.sql);
}

BOOST_AUTO_TEST_CASE(key_changing_update_joins_the_locked_old_rows) {
    auto t = table_t();
    auto r = run("UPDATE t AS x SET id = id + 100 WHERE a = 'it''s (WHERE)' RETURNING id -- c", t);
    BOOST_TEST(r.unsupported.empty(), r.unsupported);
    BOOST_REQUIRE(r.plans[0].has_value());
    BOOST_TEST(r.plans[0]->old_key);
    BOOST_TEST(r.plans[0]->added == 4u);  // id, a, xid, old id
    BOOST_TEST(r.sql.find("UPDATE t AS x SET id = id + 100 FROM (SELECT \"x\".\"id\" AS sqltap_k0 FROM t AS x "
                          "WHERE a = 'it''s (WHERE)' FOR UPDATE) AS sqltap_old WHERE (\"x\".\"id\") = "
                          "(sqltap_old.sqltap_k0) RETURNING id, ") == 0,
               r.sql);
    BOOST_TEST(analyze(r.sql).ok, r.sql);
    auto star = run("UPDATE t SET id = 2 WHERE id = 1 RETURNING *, a", t);
    BOOST_TEST(star.sql.find("RETURNING \"t\".*, a, ") != std::string::npos, star.sql);
    // Without WHERE: every row.
    auto all = run("UPDATE t SET id = -id", t);
    BOOST_TEST(all.sql.find("UPDATE t SET id = -id FROM (SELECT \"t\".\"id\" AS sqltap_k0 FROM t FOR UPDATE) AS "
                            "sqltap_old WHERE (\"t\".\"id\") = (sqltap_old.sqltap_k0) RETURNING ") == 0,
               all.sql);
    BOOST_TEST(analyze(all.sql).ok, all.sql);
}

// With before images, an UPDATE that keeps its key sets the row aside in the
// CASE of its first SET value that can carry it (one whose type cannot depend
// on the column it is assigned to) and returns it: no join to plan.
BOOST_AUTO_TEST_CASE(before_image_rides_on_a_set_value) {
    auto t = table_t();
    t.before_images = true;
    const std::string image = "CASE WHEN pg_catalog.set_config('sqltap.before_image', ROW(\"id\", \"a\")::text, "
                              "true) IS NULL THEN NULL ELSE ";
    auto r = run("UPDATE t AS x SET a = lower(a) || 'it''s, (x)' WHERE id = 1 RETURNING a -- c", t);
    BOOST_TEST(r.unsupported.empty(), r.unsupported);
    BOOST_REQUIRE(r.plans[0].has_value());
    BOOST_TEST(r.plans[0]->old_image);
    BOOST_TEST(r.plans[0]->old_row);
    BOOST_TEST(r.plans[0]->added == 4u);  // id, a, xid, the image
    BOOST_TEST(r.sql == "UPDATE t AS x SET a = " + image + "lower(a) || 'it''s, (x)' END  WHERE id = 1 RETURNING a, " +
                            col("", "id") + ", " + col("", "a") +
                            ", pg_current_xact_id()::text, pg_catalog.current_setting('sqltap.before_image') -- c",
               r.sql);
    BOOST_TEST(analyze(r.sql).ok, r.sql);
    BOOST_TEST((r.plans[0]->image_columns == std::vector<std::uint32_t>{0, 1}));  // hidden writers may change any
    // Nothing else writes the table: the record holds the columns the UPDATE
    // assigns and the generated ones; the others are as in the new row.
    auto plain = t;
    plain.hidden_writers = false;
    plain.columns.push_back({"b", 23, "integer", false});
    plain.columns.push_back({"g", 23, "integer", true});
    auto p = run("UPDATE t SET b = b + 1 WHERE id = 1", plain);
    BOOST_REQUIRE(p.plans[0].has_value());
    BOOST_TEST(p.sql.find("set_config('sqltap.before_image', ROW(\"b\", \"g\")::text, true)") != std::string::npos, p.sql);
    BOOST_TEST((p.plans[0]->image_columns == std::vector<std::uint32_t>{2, 3}));
    auto q = run("UPDATE t SET b = b + 1, nosuch = 1", plain);  // (the server refuses it)
    BOOST_TEST((q.plans[0]->image_columns == std::vector<std::uint32_t>{0, 1, 2, 3}));
    // A value that touches the next word keeps apart from it (found by fuzz_analyzer).
    auto touching = run("UPDATE t SET a = text 'y'WHERE id = 1", t);
    BOOST_TEST(touching.sql.find("ELSE text 'y' END WHERE id = 1") != std::string::npos, touching.sql);
    BOOST_TEST(analyze(touching.sql).ok, touching.sql);
    // Values whose type comes from the column are passed over: the next one carries it.
    auto t3 = t;
    t3.columns.push_back({"b", 23, "integer", false});
    for (const char* sql : {"UPDATE t SET a = 'y', b = b + 1", "UPDATE t SET a = $1, b = b + 1 WHERE id = $2",
                            "UPDATE t SET a = NULL, b = b + 1", "UPDATE t SET (a) = ROW('q'), b = b + 1",
                            "UPDATE t SET a = E'\\'', b = b + 1", "UPDATE t SET a = (('z')), b = b + 1",
                            "UPDATE t SET a = DEFAULT, b = b + 1 -- x\n", "UPDATE t SET a = -1, b = b + 1",
                            "UPDATE t SET a = ROW('1')::text, b = b + 1 RETURNING *"}) {
        auto x = run(sql, t3);
        BOOST_REQUIRE(x.plans[0].has_value());
        BOOST_TEST(x.plans[0]->old_image, sql);
        BOOST_TEST(x.sql.find("b = CASE WHEN pg_catalog.set_config(") != std::string::npos, x.sql);
        BOOST_TEST(x.sql.find("ELSE b + 1 END") != std::string::npos, x.sql);
        BOOST_TEST(analyze(x.sql).ok, x.sql);
    }
    // None can carry it: the locked join, as before.
    for (const char* sql : {"UPDATE t SET a = 'y' WHERE id = 1", "UPDATE t SET (id, a) = (1, 'y')",
                            "UPDATE t SET a = $1 WHERE id = $2", "UPDATE t SET a = U&'d\\0061t'"}) {
        auto x = run(sql, t);
        BOOST_REQUIRE(x.plans[0].has_value());
        BOOST_TEST(!x.plans[0]->old_image, sql);
        BOOST_TEST(x.sql.find("sqltap_old") != std::string::npos, x.sql);
        BOOST_TEST(analyze(x.sql).ok, x.sql);
    }
    // A key change or UPDATE … FROM is not its business.
    BOOST_TEST(run("UPDATE t SET id = id + 1", t).sql.find("sqltap_old") != std::string::npos);
    BOOST_TEST(!run("UPDATE t SET a = upper(a) FROM u WHERE u.id = t.id", t).plans[0]->old_image);
}

BOOST_AUTO_TEST_CASE(record_text_is_read_as_record_in_reads_it) {
    auto r = parse_record("(1,,\"a b\",\"\",\"x\"\"y\",\"c\\\\d\",\"(1,2)\")", 7);
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(*(*r)[0] == "1");
    BOOST_TEST(!(*r)[1].has_value());
    BOOST_TEST(*(*r)[2] == "a b");
    BOOST_TEST((*r)[3].has_value());
    BOOST_TEST((*r)[3]->empty());
    BOOST_TEST(*(*r)[4] == "x\"y");
    BOOST_TEST(*(*r)[5] == "c\\d");
    BOOST_TEST(*(*r)[6] == "(1,2)");
    auto last_null = parse_record("(1,)", 2);
    BOOST_REQUIRE(last_null.has_value());
    BOOST_TEST(!(*last_null)[1].has_value());
    BOOST_TEST(!parse_record("(1,2)", 3).has_value());
    BOOST_TEST(!parse_record("1,2", 2).has_value());
    BOOST_TEST(!parse_record("(\"1,2)", 1).has_value());
    BOOST_TEST(!parse_record("(1\\)", 1).has_value());
}

// A table may be called set (an unreserved keyword): the join names it, not
// an empty text (found by the fuzzer). As in PostgreSQL's grammar, the first
// "set" after the table is the keyword unless AS comes before it.
BOOST_AUTO_TEST_CASE(update_of_a_table_called_set) {
    auto t = table_t();
    t.name = "set";
    for (const char* sql : {"UPDATE set SET id = 2 WHERE id = 1", "UPDATE ONLY set SET id = 2",
                            "UPDATE public.set SET id = 2", "UPDATE set AS set SET id = 2 WHERE set.a = 'x'",
                            "update SET set id = 2"}) {
        auto r = run(sql, t);
        BOOST_TEST(r.unsupported.empty(), r.unsupported);
        BOOST_TEST(r.sql.find("FROM (SELECT") != std::string::npos, r.sql);
        BOOST_TEST(r.sql.find(" FROM  FOR UPDATE") == std::string::npos, r.sql);
        BOOST_TEST(analyze(r.sql).ok, r.sql);
    }
}

// Comments next to the parts the join is built from stay comments of their
// own: nothing added lands inside one (found by the fuzzer).
BOOST_AUTO_TEST_CASE(key_changing_update_around_comments) {
    auto t = table_t();
    for (const char* sql : {"UPDATE t -- the table\n SET id = 2 WHERE id = 1 -- the row\n RETURNING id",
                            "UPDATE t /* c */ SET id = 2 WHERE id = 1 /* d */ RETURNING id /* e */",
                            "UPDATE t --c\r SET id = 2 WHERE id = 1 --c\r RETURNING id --e"}) {
        auto r = run(sql, t);
        BOOST_TEST(r.unsupported.empty(), r.unsupported);
        BOOST_TEST(analyze(r.sql).ok, r.sql);
        auto a = analyze(r.sql);
        BOOST_REQUIRE(a.statements.size() == 1u);
    }
}

BOOST_AUTO_TEST_SUITE_END()

#include "capture/session_state.hpp"

BOOST_AUTO_TEST_CASE(utf8_chars_counts_characters_not_bytes) {
    using sqltap::capture::detail::utf8_chars;
    BOOST_TEST(utf8_chars("") == 0u);
    BOOST_TEST(utf8_chars("SELECT 1") == 8u);
    BOOST_TEST(utf8_chars("SELECT 'é' AS é, '€' -- ok") == 26u);
    std::string mixed;
    for (int i = 0; i < 20; ++i) mixed += "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";  // a é € 😀
    BOOST_TEST(utf8_chars(mixed) == 80u);
    for (std::size_t cut = 0; cut <= mixed.size(); ++cut) {
        std::size_t slow = 0;
        for (std::size_t i = 0; i < cut; ++i)
            if ((static_cast<unsigned char>(mixed[i]) & 0xC0) != 0x80) ++slow;
        BOOST_TEST(utf8_chars(std::string_view(mixed).substr(0, cut)) == slow);
    }
}
