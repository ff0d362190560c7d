#include "core/json/codec.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rapidjson/error/en.h"
#include "rapidjson/reader.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "core/json/utf8.h"
#include "core/strings/strings.h"

namespace berth::json {
namespace {

// SAX handler that builds a Value tree with an explicit stack, so parsing itself never
// recurses.
class TreeBuilder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, TreeBuilder> {
 public:
  explicit TreeBuilder(int max_depth) : max_depth_(max_depth) {}

  bool Null() { return Put(Value()); }
  bool Bool(bool b) { return Put(Value(b)); }
  bool Int(int i) { return Put(Value(static_cast<int64_t>(i))); }
  bool Uint(unsigned u) { return Put(Value(static_cast<int64_t>(u))); }
  bool Int64(int64_t i) { return Put(Value(i)); }
  bool Uint64(uint64_t u) {
    if (u > static_cast<uint64_t>(INT64_MAX)) return Put(Value(static_cast<double>(u)));
    return Put(Value(static_cast<int64_t>(u)));
  }
  bool Double(double d) { return Put(Value(d)); }
  bool String(const char* s, rapidjson::SizeType len, bool) {
    return Put(Value(std::string(s, len)));
  }
  bool StartObject() { return Open(Value::MakeObject()); }
  bool Key(const char* s, rapidjson::SizeType len, bool) {
    keys_.emplace_back(s, len);
    return true;
  }
  bool EndObject(rapidjson::SizeType) { return Close(); }
  bool StartArray() { return Open(Value::MakeArray()); }
  bool EndArray(rapidjson::SizeType) { return Close(); }

  bool depth_exceeded() const { return depth_exceeded_; }
  Value TakeRoot() { return std::move(root_); }

 private:
  bool Open(Value container) {
    if (static_cast<int>(stack_.size()) >= max_depth_) {
      depth_exceeded_ = true;
      return false;
    }
    stack_.push_back(std::move(container));
    return true;
  }
  bool Close() {
    Value done = std::move(stack_.back());
    stack_.pop_back();
    if (done.is_object()) RemoveDuplicateKeys(done.as_object());
    return Put(std::move(done));
  }
  bool Put(Value v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return true;
    }
    Value& top = stack_.back();
    if (top.is_array()) {
      top.as_array().push_back(std::move(v));
    } else {
      // Duplicates are resolved when the object closes (RemoveDuplicateKeys).
      top.as_object().emplace_back(std::move(keys_.back()), std::move(v));
      keys_.pop_back();
    }
    return true;
  }

  int max_depth_;
  bool depth_exceeded_ = false;
  std::vector<Value> stack_;
  std::vector<std::string> keys_;
  Value root_;
};

template <typename Writer>
void Write(const Value& v, Writer& w) {
  switch (v.type()) {
    case Value::Type::kNull: w.Null(); break;
    case Value::Type::kBool: w.Bool(v.as_bool()); break;
    case Value::Type::kInt: w.Int64(v.as_int()); break;
    case Value::Type::kDouble: {
      double d = v.as_double();
      // Integral doubles print without a fraction, as Go does for float64 values.
      // Range first: converting an out-of-range double to an integer is undefined.
      if (d < 9e15 && d > -9e15 && d == static_cast<double>(static_cast<int64_t>(d))) {
        w.Int64(static_cast<int64_t>(d));
      } else {
        w.Double(d);
      }
      break;
    }
    case Value::Type::kString:
      w.String(v.as_string().data(), static_cast<rapidjson::SizeType>(v.as_string().size()));
      break;
    case Value::Type::kArray:
      w.StartArray();
      for (const Value& e : v.as_array()) Write(e, w);
      w.EndArray();
      break;
    case Value::Type::kObject:
      w.StartObject();
      for (const auto& [k, e] : v.as_object()) {
        w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
        Write(e, w);
      }
      w.EndObject();
      break;
  }
}

// ASCII is valid UTF-8: only text with a byte of 0x80 or more needs rapidjson's per-character
// validation (3% of the apiserver's CPU during creates, nearly all bodies being ASCII).
bool IsAscii(std::string_view text) {
  size_t i = 0;
  uint64_t any = 0;
  for (; i + 8 <= text.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, text.data() + i, 8);
    any |= word;
  }
  for (; i < text.size(); ++i) any |= static_cast<unsigned char>(text[i]);
  return (any & 0x8080808080808080ull) == 0;
}

}  // namespace

absl::StatusOr<Value> Parse(std::string_view text, int max_depth) {
  TreeBuilder builder(max_depth);
  rapidjson::Reader reader;
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
  // Full precision: the default fast path rounds long decimals inexactly, so a number could
  // change value between a client's write and the next read (found by libFuzzer).
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseFullPrecisionFlag;
  rapidjson::ParseResult result = IsAscii(text)
                                      ? reader.Parse<kFlags>(is, builder)
                                      : reader.Parse<kFlags | rapidjson::kParseValidateEncodingFlag>(is, builder);
  if (builder.depth_exceeded()) {
    return absl::InvalidArgumentError(
        StrCat("JSON nesting is deeper than the limit of ", max_depth));
  }
  if (!result) {
    return absl::InvalidArgumentError(StrCat(
        "invalid JSON at offset ", result.Offset(), ": ", rapidjson::GetParseError_En(result.Code())));
  }
  return builder.TakeRoot();
}

void SerializeTo(const Value& value, std::string& out) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
  Write(value, writer);
  out.append(buf.GetString(), buf.GetSize());
}

std::string Serialize(const Value& value) {
  std::string out;
  SerializeTo(value, out);
  return out;
}

std::string Quote(std::string_view s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
  writer.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace berth::json

namespace berth::json {

absl::StatusOr<Value> ParseStored(std::string_view text, int max_depth) {
  auto v = Parse(text, max_depth);
  if (v.ok() || IsValidUtf8(text)) return v;
  return Parse(ReplaceInvalidUtf8(text), max_depth);
}

}  // namespace berth::json
