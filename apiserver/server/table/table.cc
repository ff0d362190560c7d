#include "apiserver/server/table/table.h"

#include <algorithm>

#include "apiserver/server/table/printers.h"
#include "apiserver/server/watch_sink.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::apiserver::server::table {
namespace {

json::Value RowObject(const json::Value& object, const TableOptions& options) {
  if (options.include_object == "Object") return object;
  json::Value partial = json::Value::MakeObject();
  partial.Set("kind", "PartialObjectMetadata");
  partial.Set("apiVersion", "meta.k8s.io/v1");
  const json::Value* meta = object.Find("metadata");
  partial.Set("metadata", meta ? *meta : json::Value::MakeObject());
  return partial;
}

std::string CellText(const json::Value& cell) {
  if (cell.is_string()) return cell.as_string();
  if (cell.is_null()) return "<none>";
  return json::Serialize(cell);
}

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

}  // namespace

TableOptions NegotiateTable(const http::Request& request) {
  TableOptions options;
  const std::string accept = request.Header("accept");
  // The first acceptable clause wins, as Kubernetes' negotiation does.
  for (std::string_view clause : Split(accept, ',')) {
    clause = Strip(clause);
    if (clause.find("as=Table") != std::string_view::npos && clause.find("g=meta.k8s.io") != std::string_view::npos) {
      options.format = Format::kTable;
      if (clause.find("v=v1beta1") != std::string_view::npos) options.api_version = "meta.k8s.io/v1beta1";
      break;
    }
    if (clause.rfind("text/plain", 0) == 0) {
      options.format = Format::kText;
      break;
    }
    if (clause.rfind("application/json", 0) == 0 || clause.rfind("application/yaml", 0) == 0 || clause == "*/*") break;
  }
  std::string include = request.Query("includeObject");
  if (include == "None" || include == "Object" || include == "Metadata") options.include_object = include;
  std::string wide = request.Query("wide");
  options.wide = wide == "true" || wide == "1";
  return options;
}

std::string ContentType(const TableOptions& options) {
  if (options.format == Format::kText) return "text/plain; charset=utf-8";
  return options.api_version == "meta.k8s.io/v1" ? "application/json;as=Table;v=v1;g=meta.k8s.io"
                                                  : "application/json;as=Table;v=v1beta1;g=meta.k8s.io";
}

json::Value BuildTable(const registry::ResourceType& type, const std::vector<json::Value>& objects,
                       const std::string& resource_version, const std::string& continue_token,
                       const TableOptions& options, absl::Time now, bool with_columns) {
  Printer printer = PrinterFor(type);
  json::Value table = json::Value::MakeObject();
  table.Set("kind", "Table");
  table.Set("apiVersion", options.api_version);
  json::Value& meta = table.Set("metadata", json::Value::MakeObject());
  if (!resource_version.empty()) meta.Set("resourceVersion", resource_version);
  if (!continue_token.empty()) meta.Set("continue", continue_token);
  json::Value columns = json::Value::MakeArray();
  if (with_columns) {
    for (const Column& c : printer.columns) {
      json::Value col = json::Value::MakeObject();
      col.Set("name", c.name);
      col.Set("type", c.type);
      col.Set("format", c.format);
      col.Set("description", c.description);
      col.Set("priority", c.priority);
      columns.as_array().push_back(std::move(col));
    }
  }
  table.Set("columnDefinitions", std::move(columns));
  json::Value rows = json::Value::MakeArray();
  for (const json::Value& o : objects) {
    json::Value row = json::Value::MakeObject();
    row.Set("cells", json::Value(printer.cells(o, now)));
    if (options.include_object != "None") row.Set("object", RowObject(o, options));
    rows.as_array().push_back(std::move(row));
  }
  table.Set("rows", std::move(rows));
  return table;
}

std::string RenderText(const json::Value& table, const TableOptions& options) {
  const json::Value* columns = table.Find("columnDefinitions");
  const json::Value* rows = table.Find("rows");
  if (columns == nullptr || rows == nullptr) return "";
  std::vector<size_t> shown;
  std::vector<std::vector<std::string>> lines(1);
  if (options.namespace_column) lines[0].push_back("NAMESPACE");
  for (size_t i = 0; i < columns->as_array().size(); ++i) {
    const json::Value& c = columns->as_array()[i];
    const json::Value* priority = c.Find("priority");
    if (!options.wide && priority && priority->is_int() && priority->as_int() != 0) continue;
    shown.push_back(i);
    lines[0].push_back(Upper(c.GetString({"name"})));
  }
  for (const json::Value& row : rows->as_array()) {
    std::vector<std::string> line;
    if (options.namespace_column) line.push_back(row.GetString({"object", "metadata", "namespace"}));
    const json::Value* cells = row.Find("cells");
    for (size_t i : shown) {
      line.push_back(cells && i < cells->size() ? CellText(cells->as_array()[i]) : "");
    }
    lines.push_back(std::move(line));
  }
  if (lines.size() == 1) return "No resources found.\n";
  std::vector<size_t> width(lines[0].size(), 0);
  for (const auto& line : lines) {
    for (size_t i = 0; i < line.size(); ++i) width[i] = std::max(width[i], line[i].size());
  }
  std::string out;
  for (const auto& line : lines) {
    std::string text;
    for (size_t i = 0; i < line.size(); ++i) {
      text += line[i];
      if (i + 1 < line.size()) text.append(width[i] - line[i].size() + 3, ' ');
    }
    out += text + "\n";
  }
  return out;
}

namespace {

class TableWatchSink final : public watch::WatchSink {
 public:
  TableWatchSink(std::shared_ptr<http::Stream> stream, const registry::ResourceType& type, TableOptions options,
                 const Clock& clock)
      : json_(stream, type.kind, type.ApiVersion()), stream_(std::move(stream)), type_(type),
        options_(std::move(options)), clock_(clock) {}

  bool Send(watch::EventType type, const std::string& object_json, uint64_t revision) override {
    auto object = json::ParseStored(object_json);
    if (!object.ok()) return true;  // stored objects always parse; never end a watch over one
    bool first = !sent_columns_.exchange(true);
    json::Value table = BuildTable(type_, {*object}, object->GetString({"metadata", "resourceVersion"}), "", options_,
                                   clock_.Now(), first);
    return json_.Send(type, json::Serialize(table), revision);
  }
  bool SendBookmark(uint64_t revision) override { return json_.SendBookmark(revision); }
  void Fail(const absl::Status& status) override { json_.Fail(status); }
  void End() override { json_.End(); }
  size_t Backlog() const override { return json_.Backlog(); }
  bool Gone() const override { return json_.Gone(); }

 private:
  JsonLinesWatchSink json_;
  std::shared_ptr<http::Stream> stream_;
  const registry::ResourceType type_;  // a copy: a CRD may go while the watch lasts
  const TableOptions options_;
  const Clock& clock_;
  std::atomic<bool> sent_columns_{false};
};

}  // namespace

std::shared_ptr<watch::WatchSink> MakeTableWatchSink(std::shared_ptr<http::Stream> stream,
                                                     const registry::ResourceType& type, TableOptions options,
                                                     const Clock& clock) {
  return std::make_shared<TableWatchSink>(std::move(stream), type, std::move(options), clock);
}

}  // namespace berth::apiserver::server::table
