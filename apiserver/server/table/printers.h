#pragma once
// File: apiserver/server/table/printers.h
// The columns `kubectl get` shows for each kind, computed on the server as Kubernetes does
// (pkg/printers/internalversion): the same names, the same cells (READY "1/1", STATUS
// "CrashLoopBackOff", humanized AGE), `priority: 1` for the -o wide extras. Custom resources
// use their CRD's additionalPrinterColumns.

#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "apiserver/registry/resource_type.h"
#include "core/json/value.h"

namespace berth::apiserver::server::table {

struct Column {
  std::string name;
  std::string type = "string";  // string, integer, number, boolean, date
  std::string format;           // "name" on the Name column
  std::string description;
  int priority = 0;             // 1: only with -o wide
};

struct Printer {
  std::vector<Column> columns;
  // One cell per column, in order.
  std::function<json::Array(const json::Value& object, absl::Time now)> cells;
};

Printer PrinterFor(const registry::ResourceType& type);

}  // namespace berth::apiserver::server::table
