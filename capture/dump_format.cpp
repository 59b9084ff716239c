#include "capture/dump_format.hpp"

#include <ctime>

namespace sqltap::capture {

bool dump_filter::keep(const transaction& t, const change& c) const {
    if (!table.empty()) {
        if (c.kind == op::ddl) return false;
        const relation& r = t.relations[c.rel];
        if (r.schema + "." + r.table != table) return false;
    }
    return true;
}

bool dump_filter::keep(const transaction& t) const {
    if (!xid.empty() && t.xid != xid) return false;
    if (table.empty()) return true;
    for (const auto& c : t.changes)
        if (keep(t, c)) return true;
    return false;
}

std::string json_string(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out.push_back('"');
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20) {
                    static const char hex[] = "0123456789abcdef";
                    out += "\\u00";
                    out.push_back(hex[c >> 4]);
                    out.push_back(hex[c & 15]);
                } else {
                    out.push_back(static_cast<char>(c));
                }
        }
    }
    out.push_back('"');
    return out;
}

std::string iso_time(std::int64_t micros) {
    std::time_t secs = static_cast<std::time_t>(micros / 1000000);
    long frac = static_cast<long>(micros % 1000000);
    if (frac < 0) {
        frac += 1000000;
        --secs;
    }
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return buf;
}

std::string json_value(const value& v) { return v ? json_string(*v) : "null"; }

std::string json_row(const relation& r, const std::vector<value>& vals) {
    std::string out = "{";
    for (std::size_t i = 0; i < vals.size() && i < r.columns.size(); ++i) {
        if (i) out += ",";
        out += json_string(r.columns[i]) + ":" + json_value(vals[i]);
    }
    return out + "}";
}

std::string json_key(const relation& r, const std::vector<value>& key) {
    std::string out = "{";
    for (std::size_t i = 0; i < key.size() && i < r.key_columns.size(); ++i) {
        if (i) out += ",";
        out += json_string(r.columns[r.key_columns[i]]) + ":" + json_value(key[i]);
    }
    return out + "}";
}

std::string text_value(const value& v) {
    if (!v) return "NULL";
    bool plain = !v->empty();
    for (unsigned char c : *v)
        if (c <= ' ' || c == '\'' || c == '\\' || c == 0x7f) plain = false;
    if (plain) return *v;
    std::string out = "'";
    for (char c : *v) {
        if (c == '\'') out += "''";
        else if (c == '\n') out += "\\n";
        else out.push_back(c);
    }
    return out + "'";
}

std::string text_row(const relation& r, const std::vector<value>& vals) {
    std::string out;
    for (std::size_t i = 0; i < vals.size() && i < r.columns.size(); ++i)
        out += " " + r.columns[i] + "=" + text_value(vals[i]);
    return out;
}

std::string text_key(const relation& r, const std::vector<value>& key) {
    std::string out;
    for (std::size_t i = 0; i < key.size() && i < r.key_columns.size(); ++i)
        out += " " + r.columns[r.key_columns[i]] + "=" + text_value(key[i]);
    return out;
}

std::string format_json(std::uint64_t lsn, const transaction& t, const dump_filter& f) {
    std::string out = "{\"lsn\":" + std::to_string(lsn) + ",\"xid\":" + json_string(t.xid) +
                      ",\"database\":" + json_string(t.database) +
                      ",\"commit_time\":" + json_string(iso_time(t.commit_time_us)) +
                      ",\"origin\":" + json_string(t.origin) + ",\"changes\":[";
    bool first = true;
    for (const auto& c : t.changes) {
        if (!f.keep(t, c)) continue;
        if (!first) out += ",";
        first = false;
        out += "{\"op\":" + json_string(to_string(c.kind));
        if (c.kind == op::ddl) {
            out += ",\"sql\":" + json_string(c.sql) + ",\"search_path\":" + json_string(c.search_path) + "}";
            continue;
        }
        const relation& r = t.relations[c.rel];
        out += ",\"schema\":" + json_string(r.schema) + ",\"table\":" + json_string(r.table);
        switch (c.kind) {
            case op::insert: out += ",\"new\":" + json_row(r, c.new_row); break;
            case op::update:
                out += ",\"key\":" + json_key(r, c.key) + ",\"new\":" + json_row(r, c.new_row);
                if (c.old_row) out += ",\"old\":" + json_row(r, *c.old_row);
                break;
            case op::del:
                out += ",\"key\":" + json_key(r, c.key);
                if (c.old_row) out += ",\"old\":" + json_row(r, *c.old_row);
                break;
            case op::resync: out += ",\"reason\":" + json_string(c.reason); break;
            default: break;
        }
        out += "}";
    }
    return out + "]}";
}

std::string format_text(std::uint64_t lsn, const transaction& t, const dump_filter& f) {
    std::string time = iso_time(t.commit_time_us);
    std::string out = "LSN " + std::to_string(lsn) + "  xid " + t.xid + "  database " + t.database +
                      "  committed " + time + (t.origin.empty() ? "" : "  origin " + t.origin) + "\n";
    for (const auto& c : t.changes) {
        if (!f.keep(t, c)) continue;
        if (c.kind == op::ddl) {
            out += "  ddl       (search_path " + c.search_path + ") " + c.sql + "\n";
            continue;
        }
        const relation& r = t.relations[c.rel];
        std::string name = r.schema + "." + r.table;
        switch (c.kind) {
            case op::insert: out += "  insert    " + name + "  new:" + text_row(r, c.new_row) + "\n"; break;
            case op::update:
                out += "  update    " + name + "  key:" + text_key(r, c.key) + "  new:" + text_row(r, c.new_row);
                if (c.old_row) out += "  old:" + text_row(r, *c.old_row);
                out += "\n";
                break;
            case op::del:
                out += "  delete    " + name + "  key:" + text_key(r, c.key);
                if (c.old_row) out += "  old:" + text_row(r, *c.old_row);
                out += "\n";
                break;
            case op::truncate: out += "  truncate  " + name + "\n"; break;
            case op::resync: out += "  resync    " + name + "  (" + c.reason + ")\n"; break;
            default: break;
        }
    }
    return out;
}

}  // namespace sqltap::capture
