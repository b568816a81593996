// The compliance report and the face as JSON text (snake_case, for --json); written by
// hand with nlohmann::json so numbers and escaping are standard.
#include <nlohmann/json.hpp>

#include <cmath>

#include "pipeline/compliance.hpp"
#include "pipeline/frame.hpp"

namespace idphoto::pipeline {

namespace {
// Rounded for people and diffs; JSON has no NaN or infinity: those become null.
nlohmann::json num(double v, int decimals = 4) {
  if (!std::isfinite(v)) return nullptr;
  const double k = std::pow(10.0, decimals);
  return std::round(v * k) / k;
}
}  // namespace

std::string compliance_json(const compliance_report& r) {
  nlohmann::json rules = nlohmann::json::array();
  for (const auto& x : r.rules) {
    nlohmann::json o = {{"rule", x.rule},    {"value", num(x.value)}, {"min", num(x.min)},
                        {"max", num(x.max)}, {"pass", x.pass},        {"hard", x.hard}};
    if (!x.note.empty()) o["note"] = x.note;
    rules.push_back(std::move(o));
  }
  return nlohmann::json{{"verdict", verdict_name(r.overall)}, {"rules", std::move(rules)}}.dump();
}

std::string face_json(const face_report& f, bool camel_case) {
  auto pt = [](vec2 p) { return nlohmann::json::array({num(p.x, 2), num(p.y, 2)}); };
  return nlohmann::json{{"box", {num(f.box[0], 2), num(f.box[1], 2), num(f.box[2], 2), num(f.box[3], 2)}},
                        {"eyes", {pt(f.eyes[0]), pt(f.eyes[1])}},
                        {"chin", pt(f.chin)},
                        {"crown", pt(f.crown)},
                        {camel_case ? "rollDeg" : "roll_deg", num(f.roll_deg, 2)},
                        {camel_case ? "yawDeg" : "yaw_deg", num(f.yaw_deg, 2)},
                        {camel_case ? "pitchDeg" : "pitch_deg", num(f.pitch_deg, 2)}}
      .dump();
}

}  // namespace idphoto::pipeline
