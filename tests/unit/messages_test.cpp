#include <boost/test/unit_test.hpp>

#include "protocol/builders.hpp"
#include "protocol/frame_reader.hpp"
#include "protocol/messages.hpp"

using namespace sqltap::protocol;

namespace {
bytes body_of(const byte_buffer& b) { return bytes(b).subspan(header_size); }
}  // namespace

BOOST_AUTO_TEST_SUITE(messages_suite)

BOOST_AUTO_TEST_CASE(every_tag_has_a_name) {
    for (char t : {'B', 'C', 'd', 'c', 'f', 'D', 'E', 'H', 'F', 'p', 'P', 'Q', 'S', 'X'})
        BOOST_TEST(message_name(sender::frontend, t) != nullptr);
    for (char t : {'R', 'K', '2', '3', 'C', 'd', 'c', 'G', 'H', 'W', 'D', 'I', 'E', 'V', 'v', 'n', 'N',
                   'A', 't', 'S', '1', 's', 'Z', 'T'})
        BOOST_TEST(message_name(sender::backend, t) != nullptr);
    BOOST_TEST(message_name(sender::frontend, 'Z') == nullptr);
    BOOST_TEST(message_name(sender::backend, 'Q') == nullptr);
}

BOOST_AUTO_TEST_CASE(error_response_round_trip) {
    byte_buffer b;
    build_error_response(b, {"FATAL", "08P01", "bad thing", "some detail", "a hint"});
    BOOST_TEST(static_cast<char>(b[0]) == 'E');
    field_msg m;
    BOOST_TEST(!decode(body_of(b), m));
    BOOST_TEST(m.get('S') == "FATAL");
    BOOST_TEST(m.get('C') == "08P01");
    BOOST_TEST(m.get('M') == "bad thing");
    BOOST_TEST(m.get('D') == "some detail");
    BOOST_TEST(m.get('H') == "a hint");
    BOOST_TEST(!validate(sender::backend, 'E', body_of(b)));
}

BOOST_AUTO_TEST_CASE(row_description_and_data_row_round_trip) {
    std::vector<row_description_msg::field> fields{{"id", 16384, 1, 23, 4, -1, 0},
                                                   {"name", 16384, 2, 25, -1, -1, 1}};
    byte_buffer b;
    build_row_description(b, fields);
    row_description_msg rd;
    BOOST_TEST(!decode(body_of(b), rd));
    BOOST_TEST(rd.fields.size() == 2u);
    BOOST_TEST(rd.fields[1].name == "name");
    BOOST_TEST(rd.fields[1].format == 1);
    BOOST_TEST(rd.fields[0].table_oid == 16384u);

    std::string one = "1";
    std::vector<std::optional<bytes>> cols{as_bytes(one), std::nullopt, as_bytes("")};
    byte_buffer d;
    build_data_row(d, cols);
    data_row_msg dr;
    BOOST_TEST(!decode(body_of(d), dr));
    BOOST_TEST(dr.columns.size() == 3u);
    BOOST_TEST(as_text(*dr.columns[0]) == "1");
    BOOST_TEST(!dr.columns[1].has_value());  // NULL stays distinct from empty
    BOOST_TEST(dr.columns[2].has_value());
    BOOST_TEST(dr.columns[2]->empty());
}

BOOST_AUTO_TEST_CASE(bind_round_trip_and_bad_format) {
    bind_msg m;
    m.portal = "p";
    m.statement = "s";
    m.parameter_formats = {1};
    std::string v = "\x00\x00\x00\x07";
    m.parameters = {as_bytes(v), std::nullopt};
    m.result_formats = {0, 1};
    byte_buffer b;
    build_bind(b, m);
    bind_msg d;
    BOOST_TEST(!decode(body_of(b), d));
    BOOST_TEST(d.parameters.size() == 2u);
    BOOST_TEST(!d.parameters[1].has_value());
    BOOST_TEST(d.result_formats.size() == 2u);

    BOOST_TEST(!validate(sender::frontend, 'B', body_of(b)));
    for (std::size_t cut = 0; cut < body_of(b).size(); ++cut)
        BOOST_TEST(bool(validate(sender::frontend, 'B', body_of(b).first(cut))), "cut at " << cut);

    m.result_formats = {2};
    byte_buffer bad;
    build_bind(bad, m);
    BOOST_TEST(bool(validate(sender::frontend, 'B', body_of(bad))));
}

BOOST_AUTO_TEST_CASE(truncation_is_detected_everywhere) {
    std::vector<std::pair<char, byte_buffer>> msgs;
    byte_buffer b;
    build_query(b, "select 1");
    msgs.push_back({'Q', b});
    b.clear();
    build_parse(b, "n", "select $1", std::vector<std::uint32_t>{23});
    msgs.push_back({'P', b});
    b.clear();
    build_describe(b, 'S', "n");
    msgs.push_back({'D', b});
    b.clear();
    build_execute(b, "", 10);
    msgs.push_back({'E', b});
    for (auto& [tag, m] : msgs) {
        auto body = body_of(m);
        BOOST_TEST(!validate(sender::frontend, tag, body));
        for (std::size_t cut = 0; cut < body.size(); ++cut)
            BOOST_TEST(bool(validate(sender::frontend, tag, body.first(cut))), tag << " cut at " << cut);
    }
}

BOOST_AUTO_TEST_CASE(function_call_validation) {
    byte_buffer b;
    message_writer w(b);
    w.begin('F').i32(1234).i16(1).i16(0).i16(2).i32(1).raw(as_bytes("7")).i32(-1).i16(0).end();
    BOOST_TEST(!validate(sender::frontend, 'F', body_of(b)));
    function_call_msg m;
    BOOST_TEST(!decode(body_of(b), m));
    BOOST_TEST(m.arguments.size() == 2u);
    BOOST_TEST(!m.arguments[1].has_value());
    byte_buffer bad;
    message_writer w2(bad);
    w2.begin('F').i32(1234).i16(1).i16(5).i16(0).i16(0).end();  // format code 5
    BOOST_TEST(bool(validate(sender::frontend, 'F', body_of(bad))));
}

BOOST_AUTO_TEST_CASE(ready_for_query_status) {
    byte_buffer b;
    build_ready_for_query(b, 'T');
    ready_for_query_msg m;
    BOOST_TEST(!decode(body_of(b), m));
    BOOST_TEST(m.status == 'T');
    byte_buffer bad;
    build_ready_for_query(bad, 'Q');
    BOOST_TEST(bool(decode(body_of(bad), m)));
}

BOOST_AUTO_TEST_CASE(sasl_mechanisms) {
    std::vector<std::string_view> mechs{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};
    byte_buffer b;
    build_authentication_sasl(b, mechs);
    authentication_msg a;
    BOOST_TEST(!decode(body_of(b), a));
    BOOST_TEST((a.code == auth_code::sasl));
    std::vector<std::string_view> got;
    BOOST_TEST(!decode_sasl_mechanisms(a.data, got));
    BOOST_TEST(got.size() == 2u);
    BOOST_TEST(got[1] == "SCRAM-SHA-256");
}

BOOST_AUTO_TEST_CASE(notification_and_parameter_status) {
    byte_buffer b;
    message_writer w(b);
    w.begin('A').i32(77).cstr("chan").cstr("payload").end();
    notification_msg n;
    BOOST_TEST(!decode(body_of(b), n));
    BOOST_TEST(n.process_id == 77);
    BOOST_TEST(n.channel == "chan");
    byte_buffer p;
    build_parameter_status(p, "TimeZone", "UTC");
    parameter_status_msg ps;
    BOOST_TEST(!decode(body_of(p), ps));
    BOOST_TEST(ps.value == "UTC");
}

BOOST_AUTO_TEST_SUITE_END()
