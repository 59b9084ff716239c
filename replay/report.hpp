#pragma once
// How sqltap-dump shows the replay engine's subscriber states and conflicts
// (text for people, one JSON object per line for scripts).
#include <string>

#include "replay/state.hpp"

namespace sqltap::replay {

std::string status_header_text();
std::string format_text(const subscriber_status& s);
std::string format_json(const subscriber_status& s);
std::string format_text(const conflict_record& c);
std::string format_json(const conflict_record& c);

}  // namespace sqltap::replay
