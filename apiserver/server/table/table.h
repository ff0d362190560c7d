#pragma once
// File: apiserver/server/table/table.h
// meta.k8s.io Table responses (what `kubectl get` asks for with
// `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), the aligned text rendering of the same
// table for `Accept: text/plain` (curl alone stays readable), and watch events carrying one-row
// Tables for `kubectl get -w`.

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/http/http.h"
#include "apiserver/registry/resource_type.h"
#include "apiserver/watch/watch_cache.h"
#include "core/json/value.h"

namespace berth::apiserver::server::table {

enum class Format { kObject, kTable, kText };

struct TableOptions {
  Format format = Format::kObject;
  std::string api_version = "meta.k8s.io/v1";  // or meta.k8s.io/v1beta1 when only that was asked
  std::string include_object = "Metadata";      // None, Metadata, Object (?includeObject=)
  bool wide = false;                             // text: also the priority-1 columns (?wide=true)
  bool namespace_column = false;                 // text: a list across namespaces gets NAMESPACE
};

// From the Accept header and query. kObject when neither a Table nor text was asked for.
TableOptions NegotiateTable(const http::Request& request);

// The Table for `objects`; `with_columns` false leaves columnDefinitions empty (later watch events).
json::Value BuildTable(const registry::ResourceType& type, const std::vector<json::Value>& objects,
                       const std::string& resource_version, const std::string& continue_token,
                       const TableOptions& options, absl::Time now, bool with_columns = true);

// Column headers upper-cased, cells padded to align, as kubectl prints them.
std::string RenderText(const json::Value& table, const TableOptions& options);

std::string ContentType(const TableOptions& options);

// Watch events whose objects are one-row Tables (column definitions on the first only).
std::shared_ptr<watch::WatchSink> MakeTableWatchSink(std::shared_ptr<http::Stream> stream,
                                                     const registry::ResourceType& type, TableOptions options,
                                                     const Clock& clock);

}  // namespace berth::apiserver::server::table
