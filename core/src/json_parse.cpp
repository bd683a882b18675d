#include "json_parse.h"

#include <cstring>

#include "attnscope/untrusted_text.h"

namespace attnscope {

using nlohmann::json;

namespace {

/// Thrown from the parser callback to stop at the first container that is nested too deep.
struct TooDeep {};

}  // namespace

json parseJson(std::string_view text, const std::string& subject, const json::parser_callback_t& also) {
  // nlohmann stops at a NUL byte when given iterators and would silently accept what follows.
  if (std::memchr(text.data(), '\0', text.size()))
    throw JsonError(subject + " is not valid JSON (it contains a NUL byte)");
  const auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    // depth counts the containers around this one, so a value may nest kMaxJsonDepth containers in all.
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= kMaxJsonDepth)
      throw TooDeep{};
    return also ? also(depth, event, parsed) : true;
  };
  try {
    return json::parse(text.begin(), text.end(), callback);
  } catch (const TooDeep&) {
    throw JsonError(subject + " nests arrays and objects more than " + std::to_string(kMaxJsonDepth) +
                    " deep");
  } catch (const json::exception& e) {
    // nlohmann's text starts with an exception id and may quote a raw, huge token: keep the short middle.
    std::string why = e.what();
    if (why.find("] ") != std::string::npos) why.erase(0, why.find("] ") + 2);
    throw JsonError(subject + " is not valid JSON (" + escapeForMessage(why) + ")");
  }
}

}  // namespace attnscope
