#include "capture/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <boost/crc.hpp>
#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>
#include <system_error>

namespace sqltap::capture {
namespace {

constexpr char file_magic[8] = {'S', 'Q', 'T', 'A', 'P', 'J', 'N', 'L'};
constexpr std::uint32_t file_version = 1;
constexpr std::uint32_t record_magic = 0x4a515453;  // "STQJ"
constexpr std::size_t record_header = 4 + 4 + 8 + 4;
constexpr std::size_t block = 4096;  // a group is written as whole blocks (O_DIRECT)
constexpr std::size_t keep_buffer = std::size_t{1} << 20;

void put_le(std::string& out, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t get_le(const char* p, int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= std::uint64_t(static_cast<unsigned char>(p[i])) << (8 * i);
    return v;
}

std::uint32_t checksum(std::uint64_t salt, std::uint64_t lsn, std::string_view payload) {
    char head[16];
    for (int i = 0; i < 8; ++i) head[i] = static_cast<char>((salt >> (8 * i)) & 0xff);
    for (int i = 0; i < 8; ++i) head[8 + i] = static_cast<char>((lsn >> (8 * i)) & 0xff);
    boost::crc_32_type crc;
    crc.process_bytes(head, sizeof head);
    crc.process_bytes(payload.data(), payload.size());
    return crc.checksum();
}

// The records from the header on, while they are whole, pass their CRC and
// continue the LSNs.
std::vector<journal::entry> parse(std::string_view buf, std::uint64_t salt) {
    std::vector<journal::entry> found;
    std::size_t off = 0;
    while (off + record_header <= buf.size()) {
        const char* p = buf.data() + off;
        if (get_le(p, 4) != record_magic) {
            // A group's padding: the next group starts at the next block.
            if (off % block == 0) break;
            off = (off / block + 1) * block;
            continue;
        }
        const std::uint64_t len = get_le(p + 4, 4);
        if (len < 5 || len > buf.size() - off - record_header) break;
        const std::uint64_t lsn = get_le(p + 8, 8);
        std::string_view payload(p + record_header, len);
        if (checksum(salt, lsn, payload) != get_le(p + 16, 4)) break;
        if (!found.empty() && lsn != found.back().lsn + 1) break;
        const auto k = static_cast<unsigned char>(payload[0]);
        const std::uint64_t mark_len = get_le(payload.data() + 1, 4);
        if (k > 1 || mark_len > len - 5) break;
        journal::entry e;
        e.lsn = lsn;
        e.k = static_cast<journal::kind>(k);
        e.mark = payload.substr(5, mark_len);
        e.record = payload.substr(5 + mark_len);
        found.push_back(std::move(e));
        off += record_header + len;
    }
    return found;
}

// The whole file from `from` on.
std::string read_from(int fd, std::uint64_t from, std::uint64_t size) {
    std::string buf(size > from ? size - from : 0, '\0');
    std::size_t got = 0;
    while (got < buf.size()) {
        ssize_t r = ::pread(fd, buf.data() + got, buf.size() - got, static_cast<off_t>(from + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += static_cast<std::size_t>(r);
    }
    buf.resize(got);
    return buf;
}

[[noreturn]] void fail(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), what);
}

void write_all(int fd, const char* p, std::size_t n, std::uint64_t off, const std::string& path) {
    while (n > 0) {
        ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
        if (w < 0) {
            if (errno == EINTR) continue;
            fail("cannot write " + path);
        }
        p += w;
        n -= static_cast<std::size_t>(w);
        off += static_cast<std::uint64_t>(w);
    }
}

}  // namespace

journal::journal(const std::string& dir) : path_(dir + "/journal") {
    // O_DSYNC: each write is durable (with what is needed to read it back)
    // when it returns, in one call.
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_DSYNC, 0600);
    if (fd_ < 0) throw std::runtime_error("cannot open " + path_ + ": " + std::strerror(errno));
    try {
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            if (errno == EWOULDBLOCK)
                throw std::runtime_error(path_ + " is locked: another process writes this change log");
            throw std::runtime_error("cannot lock " + path_ + ": " + std::strerror(errno));
        }
        struct stat st{};
        if (::fstat(fd_, &st) != 0) throw std::runtime_error("cannot stat " + path_ + ": " + std::strerror(errno));
        size_ = static_cast<std::uint64_t>(st.st_size);
        char head[32] = {};
        bool fresh = size_ < header_size;
        if (!fresh) {
            if (::pread(fd_, head, sizeof head, 0) != static_cast<ssize_t>(sizeof head))
                throw std::runtime_error("cannot read " + path_ + ": " + std::strerror(errno));
            // A header of zeros: made but never finished, so nothing was
            // acknowledged through it.
            fresh = std::all_of(std::begin(head), std::end(head), [](char c) { return c == 0; });
        }
        if (fresh) {
            std::random_device rd;
            salt_ = (std::uint64_t(rd()) << 32) ^ rd();
            if (size_ < initial_size) grow(initial_size);
            std::string h(file_magic, sizeof file_magic);
            put_le(h, file_version, 4);
            put_le(h, salt_, 8);
            write_all(fd_, h.data(), h.size(), 0, path_);
            if (::fsync(fd_) != 0) fail("cannot flush " + path_);
            int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) {
                ::fsync(dfd);  // the new file's name
                ::close(dfd);
            }
            open_direct();
            return;
        }
        if (std::memcmp(head, file_magic, sizeof file_magic) != 0)
            throw std::runtime_error(path_ + " is not a sqltap journal");
        if (get_le(head + 8, 4) > file_version)
            throw std::runtime_error(path_ + " has a newer format (" + std::to_string(get_le(head + 8, 4)) +
                                     ") than this program reads (" + std::to_string(file_version) + ")");
        salt_ = get_le(head + 12, 8);
        found_ = parse(read_from(fd_, header_size, size_), salt_);
        open_direct();
    } catch (...) {
        ::close(fd_);
        throw;
    }
}

void journal::open_direct() {
    // Groups go straight to the disk (O_DIRECT: no page cache to copy into
    // and write back); where the file system refuses it, through the cache.
    direct_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC | O_DIRECT | O_DSYNC);
}

journal::~journal() {
    if (direct_ >= 0) ::close(direct_);
    if (fd_ >= 0) ::close(fd_);
    std::free(buf_);
}

std::vector<std::uint64_t> journal::peek(const std::string& dir) {
    std::vector<std::uint64_t> out;
    int fd = ::open((dir + "/journal").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    struct stat st{};
    char head[32] = {};
    if (::fstat(fd, &st) == 0 && ::pread(fd, head, sizeof head, 0) == static_cast<ssize_t>(sizeof head) &&
        std::memcmp(head, file_magic, sizeof file_magic) == 0 && get_le(head + 8, 4) <= file_version) {
        for (const auto& e : parse(read_from(fd, header_size, std::uint64_t(st.st_size)), get_le(head + 12, 8)))
            out.push_back(e.lsn);
    }
    ::close(fd);
    return out;
}

void journal::grow(std::uint64_t to) {
    // Zeros, written: later writes land on allocated blocks.
    const std::string zeros(64 * 1024, '\0');
    for (std::uint64_t off = size_; off < to; off += zeros.size())
        write_all(fd_, zeros.data(), std::min<std::uint64_t>(zeros.size(), to - off), off, path_);
    if (::fsync(fd_) != 0) fail("cannot flush " + path_);
    size_ = std::max(size_, to);
}

void journal::add(std::uint64_t lsn, kind k, std::string_view mark, std::string_view record) {
    std::string payload;
    payload.reserve(5 + mark.size() + record.size());
    payload.push_back(static_cast<char>(k));
    put_le(payload, mark.size(), 4);
    payload.append(mark);
    payload.append(record);
    put_le(group_, record_magic, 4);
    put_le(group_, payload.size(), 4);
    put_le(group_, lsn, 8);
    put_le(group_, checksum(salt_, lsn, payload), 4);
    group_.append(payload);
}

void journal::write() {
    if (group_.empty()) return;
    const std::size_t n = (group_.size() + block - 1) / block * block;  // zeros after the group
    if (n > cap_) {
        std::free(buf_);
        buf_ = nullptr;
        cap_ = 0;
        void* p = nullptr;
        if (::posix_memalign(&p, block, n) != 0) {
            group_.clear();
            throw std::system_error(ENOMEM, std::generic_category(), "no memory for the journal's buffer");
        }
        buf_ = static_cast<char*>(p);
        cap_ = n;
    }
    std::memcpy(buf_, group_.data(), group_.size());
    std::memset(buf_ + group_.size(), 0, n - group_.size());
    group_.clear();
    if (pos_ + n > size_) grow(std::max(size_ * 2, pos_ + n));
    write_all(direct_ >= 0 ? direct_ : fd_, buf_, n, pos_, path_);
    pos_ += n;
    if (cap_ > keep_buffer) {  // a huge transaction's: not kept for the next group
        std::free(buf_);
        buf_ = nullptr;
        cap_ = 0;
    }
}

}  // namespace sqltap::capture
