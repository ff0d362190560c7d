#include "core/cron/cron_schedule.h"

#include <cctype>
#include <string>
#include <vector>

#include "core/strings/strings.h"

namespace berth::cron {
namespace {

int NameValue(std::string_view s, bool month) {
  static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                 "jul", "aug", "sep", "oct", "nov", "dec"};
  static constexpr std::string_view kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  std::string lower;
  for (char c : s) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (month) {
    for (int i = 0; i < 12; ++i) if (lower == kMonths[i]) return i + 1;
  } else {
    for (int i = 0; i < 7; ++i) if (lower == kDays[i]) return i;
  }
  return -1;
}

absl::StatusOr<int> Number(std::string_view s, bool month, bool weekday) {
  if (s.empty()) return absl::InvalidArgumentError("empty value");
  if (std::isalpha(static_cast<unsigned char>(s[0])) && (month || weekday)) {
    int v = NameValue(s, month);
    if (v < 0) return absl::InvalidArgumentError(StrCat("unknown name \"", s, "\""));
    return v;
  }
  int v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return absl::InvalidArgumentError(StrCat("bad number \"", s, "\""));
    v = v * 10 + (c - '0');
    if (v > 1000) return absl::InvalidArgumentError("number too large");
  }
  return v;
}

// Parses one field into bits [lo, hi]; returns whether it was restricted (not "*").
template <size_t N>
absl::StatusOr<bool> Field(std::string_view text, int lo, int hi, bool month, bool weekday, std::bitset<N>& bits) {
  bool restricted = true;
  for (std::string_view part : Split(text, ',')) {
    int step = 1;
    if (size_t slash = part.find('/'); slash != std::string_view::npos) {
      auto s = Number(part.substr(slash + 1), false, false);
      if (!s.ok() || *s == 0) return absl::InvalidArgumentError(StrCat("bad step in \"", part, "\""));
      step = *s;
      part = part.substr(0, slash);
    }
    int from, to;
    if (part == "*" || part == "?") {
      from = lo;
      to = hi;
      if (step == 1) restricted = false;
    } else if (size_t dash = part.find('-'); dash != std::string_view::npos) {
      auto a = Number(part.substr(0, dash), month, weekday);
      auto b = Number(part.substr(dash + 1), month, weekday);
      if (!a.ok()) return a.status();
      if (!b.ok()) return b.status();
      from = *a;
      to = *b;
    } else {
      auto a = Number(part, month, weekday);
      if (!a.ok()) return a.status();
      from = *a;
      to = step > 1 ? hi : *a;
    }
    if (weekday && from == 7 && to == 7) {
      from = to = 0;  // 7 is Sunday too
    } else if (weekday && to == 7) {
      bits.set(0);
      to = 6;
    }
    if (from < lo || to > hi || from > to) {
      return absl::InvalidArgumentError(StrCat("value out of range in \"", part, "\" (", lo, "-", hi, ")"));
    }
    for (int v = from; v <= to; v += step) bits.set(static_cast<size_t>(v));
  }
  return restricted;
}

}  // namespace

absl::StatusOr<CronSchedule> CronSchedule::Parse(std::string_view spec) {
  std::string_view s = Strip(spec);
  if (s == "@yearly" || s == "@annually") s = "0 0 1 1 *";
  else if (s == "@monthly") s = "0 0 1 * *";
  else if (s == "@weekly") s = "0 0 * * 0";
  else if (s == "@daily" || s == "@midnight") s = "0 0 * * *";
  else if (s == "@hourly") s = "0 * * * *";
  std::vector<std::string_view> fields;
  for (std::string_view f : Split(s, ' ')) {
    if (!f.empty()) fields.push_back(f);
  }
  if (fields.size() != 5) {
    return absl::InvalidArgumentError(StrCat("expected exactly 5 fields, found ", fields.size(), ": \"", spec, "\""));
  }
  CronSchedule c;
  auto check = [](absl::StatusOr<bool> r) { return r; };
  auto m = check(Field(fields[0], 0, 59, false, false, c.minutes_));
  if (!m.ok()) return m.status();
  auto h = check(Field(fields[1], 0, 23, false, false, c.hours_));
  if (!h.ok()) return h.status();
  auto d = check(Field(fields[2], 1, 31, false, false, c.days_));
  if (!d.ok()) return d.status();
  auto mo = check(Field(fields[3], 1, 12, true, false, c.months_));
  if (!mo.ok()) return mo.status();
  auto w = check(Field(fields[4], 0, 7, false, true, c.weekdays_));
  if (!w.ok()) return w.status();
  c.days_restricted_ = *d;
  c.weekdays_restricted_ = *w;
  return c;
}

absl::Time CronSchedule::Next(absl::Time after, absl::TimeZone zone) const {
  absl::CivilMinute start = absl::ToCivilMinute(after, zone) + 1;
  absl::CivilDay day = absl::CivilDay(start);
  for (int i = 0; i < 366 * 5; ++i, ++day) {
    if (!months_.test(static_cast<size_t>(day.month()))) continue;
    bool dom = days_.test(static_cast<size_t>(day.day()));
    bool dow = weekdays_.test(static_cast<size_t>(static_cast<int>(absl::GetWeekday(day)) == 6 ? 0 : static_cast<int>(absl::GetWeekday(day)) + 1));
    bool match = (days_restricted_ && weekdays_restricted_) ? (dom || dow) : (dom && dow);
    if (!match) continue;
    for (int hour = 0; hour < 24; ++hour) {
      if (!hours_.test(static_cast<size_t>(hour))) continue;
      for (int minute = 0; minute < 60; ++minute) {
        if (!minutes_.test(static_cast<size_t>(minute))) continue;
        absl::CivilMinute candidate(day.year(), day.month(), day.day(), hour, minute);
        if (candidate < start) continue;
        return absl::FromCivil(candidate, zone);
      }
    }
  }
  return absl::InfiniteFuture();
}

}  // namespace berth::cron
