#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "capture/journal.hpp"
#include "tests/unit/temp_dir.hpp"

using namespace sqltap::capture;
namespace fs = std::filesystem;

namespace {

using sqltap::test::temp_dir;

std::vector<std::uint64_t> lsns(const journal& j) {
    std::vector<std::uint64_t> out;
    for (const auto& e : j.found()) out.push_back(e.lsn);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(journal_suite)

BOOST_AUTO_TEST_CASE(records_come_back_as_written) {
    temp_dir d;
    {
        journal j(d.str());
        BOOST_TEST(j.found().empty());
        BOOST_TEST(fs::file_size(d.path / "journal") == journal::initial_size);
        j.add(7, journal::kind::in_doubt, std::string("42\0app", 6), "record seven");
        j.add(8, journal::kind::committed, "", std::string(3000, 'x'));
        j.write();
        j.add(9, journal::kind::in_doubt, "43", "");
        j.write();
    }
    journal j(d.str());
    BOOST_REQUIRE((lsns(j) == std::vector<std::uint64_t>{7, 8, 9}));
    BOOST_TEST((j.found()[0].k == journal::kind::in_doubt));
    BOOST_TEST(j.found()[0].mark == std::string("42\0app", 6));
    BOOST_TEST(j.found()[0].record == "record seven");
    BOOST_TEST((j.found()[1].k == journal::kind::committed));
    BOOST_TEST(j.found()[1].record == std::string(3000, 'x'));
    BOOST_TEST(j.found()[2].mark == "43");
}

// Reading stops at a damaged record, and after a restart at the first record
// that does not continue the new cycle's LSNs (the old cycle's).
BOOST_AUTO_TEST_CASE(reading_stops_at_damage_and_at_an_older_cycle) {
    temp_dir d;
    {
        journal j(d.str());
        for (std::uint64_t l = 1; l <= 4; ++l) {
            j.add(l, journal::kind::in_doubt, "x", std::string(100, char('a' + l)));
            j.write();
        }
        j.restart();
        j.add(5, journal::kind::in_doubt, "x", std::string(100, 'z'));  // over LSN 1
        j.write();
    }
    {
        journal j(d.str());
        BOOST_TEST((lsns(j) == std::vector<std::uint64_t>{5}));
        // Opened, it starts over (what it held went back into the log).
        j.add(5, journal::kind::in_doubt, "x", std::string(100, 'z'));
        j.add(6, journal::kind::in_doubt, "x", std::string(100, 'y'));  // over LSN 2
        j.write();
    }
    {
        journal j(d.str());
        BOOST_TEST((lsns(j) == std::vector<std::uint64_t>{5, 6}));
    }
    // One byte of LSN 6's record changed: its CRC fails, LSN 5 stays.
    int fd = ::open((d.path / "journal").c_str(), O_RDWR);
    BOOST_REQUIRE(fd >= 0);
    char c = 0;
    const off_t at = journal::header_size + 2 * (20 + 5 + 1 + 100) - 10;
    BOOST_REQUIRE(::pread(fd, &c, 1, at) == 1);
    c ^= 1;
    BOOST_REQUIRE(::pwrite(fd, &c, 1, at) == 1);
    ::close(fd);
    journal j(d.str());
    BOOST_TEST((lsns(j) == std::vector<std::uint64_t>{5}));
}

BOOST_AUTO_TEST_CASE(a_group_larger_than_the_file_grows_it) {
    temp_dir d;
    {
        journal j(d.str());
        j.add(1, journal::kind::committed, "", std::string(journal::initial_size + 10, 'q'));
        j.write();
        BOOST_TEST(j.size() > journal::initial_size);
    }
    journal j(d.str());
    BOOST_REQUIRE(j.found().size() == 1u);
    BOOST_TEST(j.found()[0].record.size() == journal::initial_size + 10);
}

BOOST_AUTO_TEST_CASE(a_second_writer_and_a_foreign_file_are_clear_errors) {
    temp_dir d;
    {
        journal j(d.str());
        BOOST_CHECK_EXCEPTION(journal{d.str()}, std::runtime_error, [](const std::runtime_error& e) {
            return std::string(e.what()).find("is locked") != std::string::npos;
        });
    }
    temp_dir e;
    {
        int fd = ::open((e.path / "journal").c_str(), O_CREAT | O_WRONLY, 0600);
        std::string junk(8192, 'j');
        BOOST_REQUIRE(::write(fd, junk.data(), junk.size()) == static_cast<ssize_t>(junk.size()));
        ::close(fd);
    }
    BOOST_CHECK_EXCEPTION(journal{e.str()}, std::runtime_error, [](const std::runtime_error& x) {
        return std::string(x.what()).find("is not a sqltap journal") != std::string::npos;
    });
}

BOOST_AUTO_TEST_SUITE_END()
