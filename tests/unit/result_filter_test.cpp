#include <boost/test/unit_test.hpp>

#include "capture/result_filter.hpp"
#include "capture_fixtures.hpp"
#include "protocol/builders.hpp"
#include "protocol/frame_reader.hpp"

using namespace sqltap::capture;
using sqltap::capture::testing::table_t;
namespace pw = sqltap::protocol;

namespace {

pw::bytes body(const pw::byte_buffer& m) { return pw::bytes(m).subspan(pw::header_size); }

pw::row_description_msg::field field(const char* name, std::int16_t format = 0) {
    return {name, 0, 0, 23, 4, -1, format};
}

pw::byte_buffer data_row(std::vector<std::optional<std::string>> cols) {
    std::vector<std::optional<pw::bytes>> views;
    for (const auto& c : cols) views.push_back(c ? std::optional<pw::bytes>(pw::as_bytes(*c)) : std::nullopt);
    pw::byte_buffer b;
    pw::build_data_row(b, views);
    return b;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(result_filter_suite)

BOOST_AUTO_TEST_CASE(without_client_returning_everything_is_taken) {
    auto t = table_t();
    capture_plan plan{statement_kind::insert, &t, 3, false, false};
    result_filter f(plan);
    pw::byte_buffer rd;
    std::vector<pw::row_description_msg::field> fields{field("id"), field("a"), field("pg_current_xact_id")};
    pw::build_row_description(rd, fields);
    pw::byte_buffer to_client;
    BOOST_TEST(!f.on_row_description(body(rd), to_client));
    BOOST_TEST(to_client.empty());
    captured_row row;
    BOOST_TEST(!f.on_data_row(body(data_row({"1", std::nullopt, "700"})), row, to_client));
    BOOST_TEST(to_client.empty());
    BOOST_TEST(*row.row[0] == "1");
    BOOST_TEST(!row.row[1].has_value());
    BOOST_TEST(row.xid == "700");
    auto c = *f.to_change(std::move(row), 0);
    BOOST_TEST((c.kind == op::insert));
    BOOST_TEST(c.new_row.size() == 2u);
}

BOOST_AUTO_TEST_CASE(client_part_is_byte_identical) {
    auto t = table_t();
    capture_plan plan{statement_kind::update, &t, 3, false, true};
    result_filter f(plan);
    std::vector<pw::row_description_msg::field> client{field("n", 1), field("m")};
    std::vector<pw::row_description_msg::field> all = client;
    for (auto fl : {field("id"), field("a"), field("x")}) all.push_back(fl);
    pw::byte_buffer rd, expected_rd, to_client;
    pw::build_row_description(rd, all);
    pw::build_row_description(expected_rd, client);
    BOOST_TEST(!f.on_row_description(body(rd), to_client));
    BOOST_TEST((to_client == expected_rd));

    std::string binary("\x00\x00\x00\x05", 4);
    auto full = data_row({binary, std::nullopt, "9", "new", "701"});
    auto expected = data_row({binary, std::nullopt});
    to_client.clear();
    captured_row row;
    BOOST_TEST(!f.on_data_row(body(full), row, to_client));
    BOOST_TEST((to_client == expected));
    auto c = *f.to_change(std::move(row), 3);
    BOOST_TEST((c.kind == op::update));
    BOOST_TEST(c.rel == 3u);
    BOOST_TEST(*c.key[0] == "9");
    BOOST_TEST(*c.new_row[1] == "new");
}

// A before image that holds only the columns the UPDATE assigned: the
// others are taken from the new row.
BOOST_AUTO_TEST_CASE(before_image_of_the_assigned_columns) {
    auto t = table_t();
    t.columns.push_back({"b", 25, "text", false});
    capture_plan plan{statement_kind::update, &t, 5, false, false};
    plan.old_image = plan.old_key = plan.old_row = true;
    plan.image_columns = {2};
    result_filter f(plan);
    captured_row row;
    pw::byte_buffer to_client;
    BOOST_TEST(!f.on_data_row(body(data_row({"7", "same", "new b", "702", "(\"old b\")"})), row, to_client));
    auto c = *f.to_change(std::move(row), 0);
    BOOST_TEST((c.kind == op::update));
    BOOST_REQUIRE(c.old_row.has_value());
    BOOST_TEST(*(*c.old_row)[0] == "7");
    BOOST_TEST(*(*c.old_row)[1] == "same");
    BOOST_TEST(*(*c.old_row)[2] == "old b");
    BOOST_TEST(*c.new_row[2] == "new b");
    BOOST_TEST(*c.key[0] == "7");
    // A record of another size (the table changed under the statement): an error.
    captured_row bad;
    BOOST_TEST(f.on_data_row(body(data_row({"7", "same", "new b", "702", "(1,2)"})), bad, to_client));
    // NULL and '' stay apart.
    captured_row n;
    BOOST_TEST(!f.on_data_row(body(data_row({"7", "same", "x", "702", "()"})), n, to_client));
    auto cn = *f.to_change(std::move(n), 0);
    BOOST_TEST(!(*cn.old_row)[2].has_value());
    captured_row e;
    BOOST_TEST(!f.on_data_row(body(data_row({"7", "same", "x", "702", "(\"\")"})), e, to_client));
    auto ce = *f.to_change(std::move(e), 0);
    BOOST_TEST(*(*ce.old_row)[2] == "");
}

// An UPDATE of key columns with before images (the join form): the key
// before it, then the other columns before it, make the row before it.
BOOST_AUTO_TEST_CASE(key_update_with_the_row_before_it) {
    auto t = table_t();
    t.columns.push_back({"b", 25, "text", false});
    t.key_columns = {1};  // a key that is not the first column
    capture_plan plan{statement_kind::update, &t, 7, false, false};
    plan.old_key = plan.old_row = true;
    result_filter f(plan);
    captured_row row;
    pw::byte_buffer sink;
    // New row (id, a, b), xid, old key (a), old others (id, b).
    BOOST_TEST(!f.on_data_row(body(data_row({"1", "new a", "nb", "704", "old a", "1", std::nullopt})), row, sink));
    auto c = *f.to_change(std::move(row), 0);
    BOOST_TEST((c.kind == op::update));
    BOOST_REQUIRE(c.key.size() == 1u);
    BOOST_TEST(*c.key[0] == "old a");
    BOOST_REQUIRE(c.old_row.has_value());
    BOOST_REQUIRE(c.old_row->size() == 3u);
    BOOST_TEST(*(*c.old_row)[0] == "1");
    BOOST_TEST(*(*c.old_row)[1] == "old a");
    BOOST_TEST(!(*c.old_row)[2].has_value());
    BOOST_TEST(*c.new_row[1] == "new a");
    // Without before images: the old key alone.
    capture_plan keys{statement_kind::update, &t, 5, false, false};
    keys.old_key = true;
    result_filter k(keys);
    captured_row r2;
    BOOST_TEST(!k.on_data_row(body(data_row({"1", "new a", "nb", "705", "old a"})), r2, sink));
    auto c2 = *k.to_change(std::move(r2), 0);
    BOOST_TEST(*c2.key[0] == "old a");
    BOOST_TEST(!c2.old_row.has_value());
}

BOOST_AUTO_TEST_CASE(on_conflict_update_and_delete) {
    auto t = table_t();
    capture_plan upsert{statement_kind::insert, &t, 4, true, false};
    result_filter f(upsert);
    pw::byte_buffer sink;
    captured_row row;
    BOOST_TEST(!f.on_data_row(body(data_row({"4", "x", "false", "702"})), row, sink));
    BOOST_TEST((row.inserted == std::optional<bool>(false)));
    auto c = *f.to_change(std::move(row), 0);
    BOOST_TEST((c.kind == op::update));
    BOOST_TEST(*c.key[0] == "4");

    capture_plan del{statement_kind::del, &t, 3, false, false};
    result_filter d(del);
    captured_row gone;
    BOOST_TEST(!d.on_data_row(body(data_row({"5", "old", "703"})), gone, sink));
    auto dc = *d.to_change(std::move(gone), 0);
    BOOST_TEST((dc.kind == op::del));
    BOOST_TEST(*dc.key[0] == "5");
    BOOST_TEST(*(*dc.old_row)[1] == "old");
    BOOST_TEST(dc.new_row.empty());
}

BOOST_AUTO_TEST_CASE(rows_without_the_xid) {
    auto t = table_t();
    capture_plan plan{statement_kind::update, &t, 2, false, true};
    plan.xid = false;
    result_filter f(plan);
    pw::byte_buffer to_client;
    captured_row row;
    BOOST_TEST(!f.on_data_row(body(data_row({"client", "4", "y"})), row, to_client));
    BOOST_TEST(row.xid.empty());
    BOOST_TEST(row.row.size() == 2u);
    BOOST_TEST((row.row[0] == value("4")));
    BOOST_TEST((row.row[1] == value("y")));
    BOOST_TEST((to_client == data_row({"client"})));
}

BOOST_AUTO_TEST_CASE(short_or_broken_rows_are_errors) {
    auto t = table_t();
    capture_plan plan{statement_kind::insert, &t, 3, false, true};
    result_filter f(plan);
    pw::byte_buffer sink;
    captured_row row;
    BOOST_TEST(bool(f.on_data_row(body(data_row({"1", "2"})), row, sink)));  // fewer than added
    auto good = data_row({"c", "1", "x", "7"});
    for (std::size_t cut = 0; cut < body(good).size(); ++cut)
        BOOST_TEST(bool(f.on_data_row(body(good).first(cut), row, sink)), "cut at " << cut);
    BOOST_TEST(f.log_relation().columns.size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
