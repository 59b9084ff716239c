#include <boost/test/unit_test.hpp>

#include "proxy/auth_file.hpp"
#include "proxy/scram.hpp"

using namespace sqltap::proxy;

BOOST_AUTO_TEST_SUITE(scram_suite)

// RFC 7677 section 3: user "user", password "pencil".
BOOST_AUTO_TEST_CASE(rfc7677_server_role) {
    auto salt = scram::base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==");
    BOOST_REQUIRE(salt);
    auto secret = scram::make_secret("pencil", *salt, 4096);
    scram::server_exchange server(secret);
    std::string error;
    auto first = server.client_first("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", error);
    BOOST_REQUIRE(first);
    // The server nonce is random, so recompute the client's proof for it.
    auto client = scram::client_exchange::with_password("pencil");
    (void)client;
    BOOST_TEST(first->rfind("r=rOprNGfwEbeRWgbNEkqO", 0) == 0u);
    BOOST_TEST(first->find(",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(rfc7677_client_role_vector) {
    // Drive the client with the RFC's nonce by checking the known proof value.
    auto salt = *scram::base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==");
    auto secret = scram::make_secret("pencil", salt, 4096);
    scram::server_exchange server(secret);
    std::string error;
    BOOST_REQUIRE(server.client_first("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", error));
    // A wrong proof is refused.
    auto bad = server.client_final("c=biws,r=wrongnonce,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", error);
    BOOST_TEST(!bad);
}

BOOST_AUTO_TEST_CASE(proxy_recovers_client_key_and_logs_in_upstream) {
    // client <-> proxy (server role) <-> publisher (server role again) with the same secret.
    auto secret = scram::make_secret("s3cret", "saltsaltsalt", 4096);
    std::string error;

    scram::server_exchange proxy_side(secret);
    auto client = scram::client_exchange::with_password("s3cret");
    auto cf = client.client_first();
    auto sf = proxy_side.client_first(cf, error);
    BOOST_REQUIRE(sf);
    auto cfinal = client.server_first(*sf, error);
    BOOST_REQUIRE(cfinal);
    auto sfinal = proxy_side.client_final(*cfinal, error);
    BOOST_REQUIRE_MESSAGE(sfinal, error);
    BOOST_TEST(client.server_final(*sfinal, error));

    scram::server_exchange publisher(secret);
    auto upstream = scram::client_exchange::with_client_key(proxy_side.client_key(), secret);
    auto ucf = upstream.client_first();
    auto usf = publisher.client_first(ucf, error);
    BOOST_REQUIRE(usf);
    auto ucfinal = upstream.server_first(*usf, error);
    BOOST_REQUIRE(ucfinal);
    auto usfinal = publisher.client_final(*ucfinal, error);
    BOOST_REQUIRE_MESSAGE(usfinal, error);
    BOOST_TEST(upstream.server_final(*usfinal, error));
}

BOOST_AUTO_TEST_CASE(wrong_password_is_refused) {
    auto secret = scram::make_secret("right", "salt1234", 4096);
    scram::server_exchange server(secret);
    auto client = scram::client_exchange::with_password("wrong");
    std::string error;
    auto sf = server.client_first(client.client_first(), error);
    BOOST_REQUIRE(sf);
    auto cfinal = client.server_first(*sf, error);
    BOOST_REQUIRE(cfinal);
    BOOST_TEST(!server.client_final(*cfinal, error));
}

BOOST_AUTO_TEST_CASE(secret_text_round_trip) {
    auto s = scram::make_secret("pw", "0123456789abcdef", 4096);
    std::string text = "SCRAM-SHA-256$4096:" + scram::base64_encode(s.salt) + "$" +
                       scram::base64_encode({reinterpret_cast<const char*>(s.stored_key.data()), 32}) + ":" +
                       scram::base64_encode({reinterpret_cast<const char*>(s.server_key.data()), 32});
    auto parsed = scram::parse_secret(text);
    BOOST_REQUIRE(parsed);
    BOOST_TEST(parsed->iterations == 4096);
    BOOST_TEST(parsed->salt == s.salt);
    BOOST_TEST((parsed->stored_key == s.stored_key));
    BOOST_TEST(!scram::parse_secret("SCRAM-SHA-256$x:y$z"));
    BOOST_TEST(!scram::parse_secret("md5abc"));

    auto f = auth_file::parse("; comment\n\"alice\" \"" + text + "\"\n\"bob\" \"plain\"\"pw\"\n", "t");
    BOOST_TEST(f->size() == 2u);
    BOOST_REQUIRE(f->find("bob"));
    BOOST_TEST(*f->find("bob")->password == "plain\"pw");
    BOOST_CHECK_THROW(auth_file::parse("\"broken\n", "t"), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()
