#pragma once
// The strict change log's journal: the file `journal` in the log directory.
//
// With durability = strict a transaction's record must be durable before its
// COMMIT goes to the publisher. Committing an LMDB transaction durably takes
// two flushes (the data pages, then the meta page that points at them) and a
// write per page touched, scattered over the file. Instead the writer applies
// each group to an LMDB write transaction that stays open, appends the group's
// records to this journal in one write that is durable when it returns
// (O_DSYNC: one contiguous write, one flush), and only then acknowledges
// them. Every `linger` the open LMDB transaction is committed and flushed (a
// checkpoint) and the journal starts again at its beginning.
//
// After a crash, the journal holds every acknowledged record that the last
// checkpoint does not: change_log::open() puts those with an LSN at or past
// the log's next LSN back as in-doubt entries, which recovery resolves with
// the publisher like any other.
//
// Layout: a 4 kB header ("SQTAPJNL", version u32, a random salt u64 made with
// the file), then groups, each written as whole 4 kB blocks (zeros after its
// last record) with O_DIRECT where the file system allows it, of records
//   magic u32 | payload length u32 | LSN u64 | CRC-32 u32 |
//   kind u8 | mark length u32 | mark | encoded transaction record
// (little endian; the CRC covers the salt, the LSN and the payload, so that
// row data that happens to look like a record never passes for one). Reading
// stops at the first record that is torn, fails its CRC or does not continue
// the LSNs of the one before: what follows is an older cycle's, already in
// LMDB. The file is written with zeros when it is made
// or grown, so that a journal write never allocates blocks (no metadata to
// flush with it). An exclusive flock on it keeps a second writer off the log.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sqltap::capture {

class journal {
public:
    enum class kind : std::uint8_t { in_doubt = 0, committed = 1 };
    struct entry {
        std::uint64_t lsn = 0;
        kind k = kind::in_doubt;
        std::string mark;    // the in-doubt mark's value (in_doubt only)
        std::string record;  // the encoded transaction
    };

    // Opens (creating) DIR/journal and locks it. Throws std::runtime_error
    // naming the file when it cannot, or when another process holds it.
    explicit journal(const std::string& dir);
    ~journal();
    journal(const journal&) = delete;
    journal& operator=(const journal&) = delete;

    // The LSNs of the records DIR/journal holds, for a reader (no lock taken,
    // nothing created; none when there is no journal or it cannot be read).
    static std::vector<std::uint64_t> peek(const std::string& dir);

    // The records of the cycle the file holds, in LSN order (read at open).
    const std::vector<entry>& found() const noexcept { return found_; }
    void forget_found() { found_.clear(); found_.shrink_to_fit(); }

    // Adds a record to the group being gathered.
    void add(std::uint64_t lsn, kind k, std::string_view mark, std::string_view record);
    bool empty() const noexcept { return group_.empty(); }
    // Writes the group durably after this cycle's records (growing the file
    // first when the group alone is larger than it). Throws std::system_error;
    // the group is dropped either way.
    void write();
    void drop() noexcept { group_.clear(); }
    // After a checkpoint: the next group is written at the beginning.
    void restart() noexcept { pos_ = header_size; }
    std::uint64_t size() const noexcept { return size_; }

    static constexpr std::uint64_t initial_size = std::uint64_t{1} << 20;
    static constexpr std::uint64_t header_size = 4096;

private:
    void grow(std::uint64_t to);
    void open_direct();

    std::string path_;
    int fd_ = -1;
    int direct_ = -1;  // O_DIRECT | O_DSYNC, for the groups; -1 where refused
    char* buf_ = nullptr;  // block-aligned copy of the group being written
    std::size_t cap_ = 0;
    std::uint64_t size_ = 0;
    std::uint64_t pos_ = header_size;
    std::uint64_t salt_ = 0;
    std::string group_;
    std::vector<entry> found_;
};

}  // namespace sqltap::capture
