#include "apiserver/server/table/printers.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_join.h"
#include "apiserver/server/table/jsonpath.h"
#include "core/strings/strings.h"
#include "core/time/clock.h"

namespace berth::apiserver::server::table {
namespace {

using Array = json::Array;

const char kNone[] = "<none>";

Column NameColumn() {
  return {"Name", "string", "name",
          "Name must be unique within a namespace. Is required when creating resources, although some resources may "
          "allow a client to request the generation of an appropriate name automatically.",
          0};
}

Column AgeColumn() {
  return {"Age", "string", "",
          "CreationTimestamp is a timestamp representing the server time when this object was created.", 0};
}

std::string Since(const std::string& timestamp, absl::Time now) {
  if (timestamp.empty()) return "<unknown>";
  absl::Time t = ParseRfc3339(timestamp, absl::InfinitePast());
  if (t == absl::InfinitePast()) return "<unknown>";
  return HumanDuration(now - t);
}

std::string Age(const json::Value& o, absl::Time now) {
  return Since(o.GetString({"metadata", "creationTimestamp"}), now);
}

int64_t Int(const json::Value& o, std::initializer_list<std::string_view> path, int64_t fallback = 0) {
  const json::Value* v = o.Get(path);
  return v && v->is_int() ? v->as_int() : fallback;
}

std::string OrNone(std::string s) { return s.empty() ? kNone : s; }

const json::Array& ArrayAt(const json::Value& o, std::initializer_list<std::string_view> path) {
  static const json::Array empty;
  const json::Value* v = o.Get(path);
  return v && v->is_array() ? v->as_array() : empty;
}

// "a=b,c in (d,e)" from a metav1.LabelSelector.
std::string FormatSelector(const json::Value* selector) {
  if (selector == nullptr || !selector->is_object()) return kNone;
  std::vector<std::string> parts;
  if (const json::Value* labels = selector->Find("matchLabels"); labels && labels->is_object()) {
    for (const auto& [k, v] : labels->as_object()) parts.push_back(StrCat(k, "=", v.is_string() ? v.as_string() : ""));
  }
  if (const json::Value* exprs = selector->Find("matchExpressions"); exprs && exprs->is_array()) {
    for (const json::Value& e : exprs->as_array()) {
      std::string op = e.GetString({"operator"});
      std::string key = e.GetString({"key"});
      std::vector<std::string> values;
      for (const json::Value& v : ArrayAt(e, {"values"})) values.push_back(v.is_string() ? v.as_string() : "");
      if (op == "Exists") parts.push_back(key);
      else if (op == "DoesNotExist") parts.push_back("!" + key);
      else parts.push_back(StrCat(key, op == "In" ? " in (" : " notin (", Join(values, ","), ")"));
    }
  }
  return parts.empty() ? kNone : Join(parts, ",");
}

// The Containers, Images and Selector columns that workload kinds add with -o wide.
std::vector<Column> WorkloadWideColumns() {
  return {{"Containers", "string", "", "Names of each container in the template.", 1},
          {"Images", "string", "", "Images referenced by each container in the template.", 1},
          {"Selector", "string", "", "Label selector for pods.", 1}};
}

void AppendWorkloadWideCells(const json::Value& o, Array& cells) {
  std::vector<std::string> names, images;
  for (const json::Value& c : ArrayAt(o, {"spec", "template", "spec", "containers"})) {
    names.push_back(c.GetString({"name"}));
    images.push_back(c.GetString({"image"}));
  }
  cells.emplace_back(Join(names, ","));
  cells.emplace_back(Join(images, ","));
  cells.emplace_back(FormatSelector(o.Get({"spec", "selector"})));
}

std::string ExitReason(const json::Value& terminated, const char* prefix) {
  std::string reason = terminated.GetString({"reason"});
  if (!reason.empty()) return StrCat(prefix, reason);
  if (int64_t sig = Int(terminated, {"signal"}); sig != 0) return StrCat(prefix, "Signal:", sig);
  return StrCat(prefix, "ExitCode:", Int(terminated, {"exitCode"}));
}

// kubectl's STATUS column for a pod (printPod): init progress, the reason a container waits or
// ended, Terminating once deleted.
Array PodCells(const json::Value& o, absl::Time now) {
  std::string reason = o.GetString({"status", "phase"});
  if (std::string r = o.GetString({"status", "reason"}); !r.empty()) reason = r;
  const Array& init_statuses = ArrayAt(o, {"status", "initContainerStatuses"});
  size_t init_count = ArrayAt(o, {"spec", "initContainers"}).size();
  bool initializing = false;
  int64_t restarts = 0;
  std::string last_restart;
  auto note_restart = [&](const json::Value& status) {
    restarts += Int(status, {"restartCount"});
    std::string finished = status.GetString({"lastState", "terminated", "finishedAt"});
    if (!finished.empty() && finished > last_restart) last_restart = finished;
  };
  for (size_t i = 0; i < init_statuses.size(); ++i) {
    const json::Value& s = init_statuses[i];
    note_restart(s);
    if (const json::Value* t = s.Get({"state", "terminated"})) {
      if (Int(*t, {"exitCode"}) == 0) continue;
      reason = ExitReason(*t, "Init:");
    } else if (std::string w = s.GetString({"state", "waiting", "reason"}); !w.empty() && w != "PodInitializing") {
      reason = "Init:" + w;
    } else {
      reason = StrCat("Init:", i, "/", init_count);
    }
    initializing = true;
    break;
  }
  int64_t ready = 0;
  if (!initializing) {
    restarts = 0;
    last_restart.clear();
    bool has_running = false;
    const Array& statuses = ArrayAt(o, {"status", "containerStatuses"});
    for (auto it = statuses.rbegin(); it != statuses.rend(); ++it) {
      const json::Value& s = *it;
      note_restart(s);
      if (std::string w = s.GetString({"state", "waiting", "reason"}); !w.empty()) {
        reason = w;
      } else if (const json::Value* t = s.Get({"state", "terminated"})) {
        reason = ExitReason(*t, "");
      } else if (s.Get({"state", "running"})) {
        const json::Value* r = s.Find("ready");
        if (r && r->is_bool() && r->as_bool()) {
          has_running = true;
          ready++;
        }
      }
    }
    if (reason == "Completed" && has_running) reason = "Running";
  }
  if (o.Get({"metadata", "deletionTimestamp"})) {
    reason = o.GetString({"status", "reason"}) == "NodeLost" ? "Unknown" : "Terminating";
  }
  std::string restart_cell = StrCat(restarts);
  if (restarts > 0 && !last_restart.empty()) StrAppend(&restart_cell, " (", Since(last_restart, now), " ago)");
  Array cells;
  cells.emplace_back(o.GetString({"metadata", "name"}));
  cells.emplace_back(StrCat(ready, "/", ArrayAt(o, {"spec", "containers"}).size()));
  cells.emplace_back(reason);
  cells.emplace_back(restart_cell);
  cells.emplace_back(Age(o, now));
  cells.emplace_back(OrNone(o.GetString({"status", "podIP"})));
  cells.emplace_back(OrNone(o.GetString({"spec", "nodeName"})));
  cells.emplace_back(OrNone(o.GetString({"status", "nominatedNodeName"})));
  cells.emplace_back(kNone);
  return cells;
}

Printer PodPrinter() {
  return {{NameColumn(),
           {"Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", 0},
           {"Status", "string", "", "The aggregate status of the containers in this pod.", 0},
           {"Restarts", "string", "", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.", 0},
           AgeColumn(),
           {"IP", "string", "", "IP address allocated to the pod. Routable at least within the cluster.", 1},
           {"Node", "string", "", "Name of the node the pod is bound to.", 1},
           {"Nominated Node", "string", "", "Name of the node where the pod may run after a preemption.", 1},
           {"Readiness Gates", "string", "", "Pod readiness gates that must be true.", 1}},
          PodCells};
}

Array NodeCells(const json::Value& o, absl::Time now) {
  std::string status = "Unknown";
  for (const json::Value& c : ArrayAt(o, {"status", "conditions"})) {
    if (c.GetString({"type"}) == "Ready") status = c.GetString({"status"}) == "True" ? "Ready" : "NotReady";
  }
  const json::Value* unschedulable = o.Get({"spec", "unschedulable"});
  if (unschedulable && unschedulable->is_bool() && unschedulable->as_bool()) status += ",SchedulingDisabled";
  std::vector<std::string> roles;
  if (const json::Value* labels = o.Get({"metadata", "labels"}); labels && labels->is_object()) {
    for (const auto& [k, v] : labels->as_object()) {
      constexpr std::string_view kPrefix = "node-role.kubernetes.io/";
      if (k.rfind(kPrefix, 0) == 0 && k.size() > kPrefix.size()) roles.push_back(k.substr(kPrefix.size()));
      if (k == "kubernetes.io/role" && v.is_string() && !v.as_string().empty()) roles.push_back(v.as_string());
    }
  }
  std::sort(roles.begin(), roles.end());
  std::string internal_ip, external_ip;
  for (const json::Value& a : ArrayAt(o, {"status", "addresses"})) {
    if (a.GetString({"type"}) == "InternalIP" && internal_ip.empty()) internal_ip = a.GetString({"address"});
    if (a.GetString({"type"}) == "ExternalIP" && external_ip.empty()) external_ip = a.GetString({"address"});
  }
  Array cells;
  cells.emplace_back(o.GetString({"metadata", "name"}));
  cells.emplace_back(status);
  cells.emplace_back(roles.empty() ? std::string(kNone) : Join(roles, ","));
  cells.emplace_back(Age(o, now));
  cells.emplace_back(o.GetString({"status", "nodeInfo", "kubeletVersion"}));
  cells.emplace_back(OrNone(internal_ip));
  cells.emplace_back(OrNone(external_ip));
  cells.emplace_back(OrNone(o.GetString({"status", "nodeInfo", "osImage"})));
  cells.emplace_back(OrNone(o.GetString({"status", "nodeInfo", "kernelVersion"})));
  cells.emplace_back(OrNone(o.GetString({"status", "nodeInfo", "containerRuntimeVersion"})));
  return cells;
}

Printer NodePrinter() {
  return {{NameColumn(),
           {"Status", "string", "", "The status of the node", 0},
           {"Roles", "string", "", "The roles of the node", 0},
           AgeColumn(),
           {"Version", "string", "", "Kubelet Version reported by the node.", 0},
           {"Internal-IP", "string", "", "List of internal IPs.", 1},
           {"External-IP", "string", "", "List of external IPs.", 1},
           {"OS-Image", "string", "", "OS Image reported by the node from /etc/os-release.", 1},
           {"Kernel-Version", "string", "", "Kernel Version reported by the node.", 1},
           {"Container-Runtime", "string", "", "Container Runtime Version reported by the node.", 1}},
          NodeCells};
}

// A printer whose cells are Name, `middle` (computed from the object), Age, then the wide extras.
Printer Simple(std::vector<Column> middle, std::function<Array(const json::Value&, absl::Time)> middle_cells,
               bool workload_wide = false, bool age_last = true) {
  Printer p;
  p.columns.push_back(NameColumn());
  for (Column& c : middle) p.columns.push_back(std::move(c));
  if (age_last) p.columns.push_back(AgeColumn());
  if (workload_wide) {
    for (Column& c : WorkloadWideColumns()) p.columns.push_back(std::move(c));
  }
  p.cells = [middle_cells, workload_wide, age_last](const json::Value& o, absl::Time now) {
    Array cells;
    cells.emplace_back(o.GetString({"metadata", "name"}));
    for (json::Value& v : middle_cells(o, now)) cells.push_back(std::move(v));
    if (age_last) cells.emplace_back(Age(o, now));
    if (workload_wide) AppendWorkloadWideCells(o, cells);
    return cells;
  };
  return p;
}

std::string JobStatus(const json::Value& o) {
  std::map<std::string, bool> conditions;
  for (const json::Value& c : ArrayAt(o, {"status", "conditions"})) {
    conditions[c.GetString({"type"})] = c.GetString({"status"}) == "True";
  }
  if (conditions["Complete"]) return "Complete";
  if (conditions["Failed"]) return "Failed";
  if (o.Get({"metadata", "deletionTimestamp"})) return "Terminating";
  if (conditions["SuccessCriteriaMet"]) return "SuccessCriteriaMet";
  if (conditions["FailureTarget"]) return "FailureTarget";
  if (conditions["Suspended"]) return "Suspended";
  return "Running";
}

Printer JobPrinter() {
  return Simple({{"Status", "string", "", "Status of the job.", 0},
                 {"Completions", "string", "", "The completion status of the job.", 0},
                 {"Duration", "string", "", "Time required to complete the job.", 0}},
                [](const json::Value& o, absl::Time now) {
                  std::string completions;
                  int64_t succeeded = Int(o, {"status", "succeeded"});
                  if (o.Get({"spec", "completions"})) {
                    completions = StrCat(succeeded, "/", Int(o, {"spec", "completions"}));
                  } else {
                    int64_t parallelism = Int(o, {"spec", "parallelism"}, 1);
                    completions = parallelism > 1 ? StrCat(succeeded, "/1 of ", parallelism) : StrCat(succeeded, "/1");
                  }
                  std::string duration;
                  std::string start = o.GetString({"status", "startTime"});
                  if (!start.empty()) {
                    std::string done = o.GetString({"status", "completionTime"});
                    absl::Time end = done.empty() ? now : ParseRfc3339(done, now);
                    duration = HumanDuration(end - ParseRfc3339(start, end));
                  }
                  return Array{JobStatus(o), completions, duration};
                },
                true);
}

Printer CronJobPrinter() {
  return Simple({{"Schedule", "string", "", "The schedule in Cron format.", 0},
                 {"Timezone", "string", "", "The time zone the schedule uses.", 0},
                 {"Suspend", "boolean", "", "Whether the cron job is suspended.", 0},
                 {"Active", "integer", "", "The number of active jobs.", 0},
                 {"Last Schedule", "string", "", "When the job was last scheduled.", 0}},
                [](const json::Value& o, absl::Time now) {
                  const json::Value* suspend = o.Get({"spec", "suspend"});
                  std::string last = o.GetString({"status", "lastScheduleTime"});
                  return Array{o.GetString({"spec", "schedule"}), OrNone(o.GetString({"spec", "timeZone"})),
                               suspend && suspend->is_bool() && suspend->as_bool() ? "True" : "False",
                               static_cast<int64_t>(ArrayAt(o, {"status", "active"}).size()),
                               last.empty() ? std::string(kNone) : Since(last, now)};
                },
                true);
}

Printer EventPrinter() {
  Printer p;
  p.columns = {{"Last Seen", "string", "", "Time when last event occurred.", 0},
               {"Type", "string", "", "Type of this event (Normal, Warning).", 0},
               {"Reason", "string", "", "Why the action was taken.", 0},
               {"Object", "string", "", "The object the event is about.", 0},
               {"Message", "string", "", "A human-readable description of the status of this operation.", 0},
               {"Subobject", "string", "", "The field of the object the event is about.", 1},
               {"Source", "string", "", "The component reporting this event.", 1},
               {"First Seen", "string", "", "The time at which the event was first recorded.", 1},
               {"Count", "string", "", "The number of times this event has occurred.", 1},
               {"Name", "string", "name", "The name of the event.", 1}};
  p.cells = [](const json::Value& o, absl::Time now) {
    std::string last = o.GetString({"lastTimestamp"});
    if (last.empty()) last = o.GetString({"eventTime"});
    if (last.empty()) last = o.GetString({"metadata", "creationTimestamp"});
    std::string first = o.GetString({"firstTimestamp"});
    if (first.empty()) first = last;
    std::string kind = o.GetString({"involvedObject", "kind"});
    std::transform(kind.begin(), kind.end(), kind.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string source = o.GetString({"source", "component"});
    if (std::string host = o.GetString({"source", "host"}); !host.empty()) StrAppend(&source, ", ", host);
    int64_t count = Int(o, {"count"}, 1);
    return Array{Since(last, now),
                 o.GetString({"type"}),
                 o.GetString({"reason"}),
                 StrCat(kind, "/", o.GetString({"involvedObject", "name"})),
                 o.GetString({"message"}),
                 o.GetString({"involvedObject", "fieldPath"}),
                 source,
                 Since(first, now),
                 StrCat(count),
                 o.GetString({"metadata", "name"})};
  };
  return p;
}

// A custom resource: Name then the CRD's additionalPrinterColumns, or Name and Age without them.
Printer CustomPrinter(const registry::ResourceType& type) {
  if (!type.printer_columns.is_array() || type.printer_columns.size() == 0) {
    return Simple({}, [](const json::Value&, absl::Time) { return Array{}; });
  }
  Printer p;
  p.columns.push_back(NameColumn());
  std::vector<std::pair<std::string, std::string>> paths;  // (jsonPath, type)
  for (const json::Value& c : type.printer_columns.as_array()) {
    Column col;
    col.name = c.GetString({"name"});
    col.type = c.GetString({"type"}, "string");
    col.format = c.GetString({"format"});
    col.description = c.GetString({"description"});
    col.priority = static_cast<int>(Int(c, {"priority"}));
    p.columns.push_back(col);
    paths.emplace_back(c.GetString({"jsonPath"}), col.type);
  }
  p.cells = [paths](const json::Value& o, absl::Time now) {
    Array cells;
    cells.emplace_back(o.GetString({"metadata", "name"}));
    for (const auto& [path, type] : paths) {
      auto found = EvalJsonPath(path, o);
      if (!found.ok() || found->empty()) {
        cells.emplace_back(nullptr);  // kubectl prints <none>
        continue;
      }
      const json::Value& v = *found->front();
      if (type == "date" && v.is_string()) {
        cells.emplace_back(Since(v.as_string(), now));
      } else if (type == "string" && !v.is_string()) {
        cells.emplace_back(v.is_int() ? StrCat(v.as_int()) : v.is_bool() ? (v.as_bool() ? "true" : "false") : "");
      } else {
        cells.push_back(v);
      }
    }
    return cells;
  };
  return p;
}

}  // namespace

Printer PrinterFor(const registry::ResourceType& type) {
  if (type.custom) return CustomPrinter(type);
  const std::string key = type.group.empty() ? type.plural : type.plural + "." + type.group;
  if (key == "pods") return PodPrinter();
  if (key == "nodes") return NodePrinter();
  if (key == "events") return EventPrinter();
  if (key == "namespaces") {
    return Simple({{"Status", "string", "", "The status of the namespace", 0}},
                  [](const json::Value& o, absl::Time) { return Array{o.GetString({"status", "phase"})}; });
  }
  if (key == "deployments.apps") {
    return Simple({{"Ready", "string", "", "Number of the pod with ready state", 0},
                   {"Up-to-date", "integer", "", "Total number of non-terminated pods targeted by this deployment that have the desired template spec.", 0},
                   {"Available", "integer", "", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.", 0}},
                  [](const json::Value& o, absl::Time) {
                    return Array{StrCat(Int(o, {"status", "readyReplicas"}), "/", Int(o, {"spec", "replicas"}, 1)),
                                 Int(o, {"status", "updatedReplicas"}), Int(o, {"status", "availableReplicas"})};
                  },
                  true);
  }
  if (key == "replicasets.apps") {
    return Simple({{"Desired", "integer", "", "Number of desired pods.", 0},
                   {"Current", "integer", "", "Number of actual replicas.", 0},
                   {"Ready", "integer", "", "Number of ready replicas.", 0}},
                  [](const json::Value& o, absl::Time) {
                    return Array{Int(o, {"spec", "replicas"}, 1), Int(o, {"status", "replicas"}),
                                 Int(o, {"status", "readyReplicas"})};
                  },
                  true);
  }
  if (key == "daemonsets.apps") {
    return Simple({{"Desired", "integer", "", "The desired number of daemon pods.", 0},
                   {"Current", "integer", "", "The number of nodes running at least one daemon pod.", 0},
                   {"Ready", "integer", "", "The number of nodes running a ready daemon pod.", 0},
                   {"Up-to-date", "integer", "", "The number of nodes running the updated daemon pod spec.", 0},
                   {"Available", "integer", "", "The number of nodes running an available daemon pod.", 0},
                   {"Node Selector", "string", "", "Which nodes the daemon pods run on.", 0}},
                  [](const json::Value& o, absl::Time) {
                    std::vector<std::string> selector;
                    if (const json::Value* ns = o.Get({"spec", "template", "spec", "nodeSelector"}); ns && ns->is_object()) {
                      for (const auto& [k, v] : ns->as_object()) selector.push_back(StrCat(k, "=", v.is_string() ? v.as_string() : ""));
                    }
                    return Array{Int(o, {"status", "desiredNumberScheduled"}), Int(o, {"status", "currentNumberScheduled"}),
                                 Int(o, {"status", "numberReady"}), Int(o, {"status", "updatedNumberScheduled"}),
                                 Int(o, {"status", "numberAvailable"}), OrNone(Join(selector, ","))};
                  },
                  true);
  }
  if (key == "jobs.batch") return JobPrinter();
  if (key == "cronjobs.batch") return CronJobPrinter();
  if (key == "configmaps") {
    return Simple({{"Data", "integer", "", "Number of keys in the config map.", 0}}, [](const json::Value& o, absl::Time) {
      const json::Value* data = o.Find("data");
      const json::Value* binary = o.Find("binaryData");
      return Array{static_cast<int64_t>((data ? data->size() : 0) + (binary ? binary->size() : 0))};
    });
  }
  if (key == "secrets") {
    return Simple({{"Type", "string", "", "The type of the secret", 0}, {"Data", "integer", "", "Number of items in the secret", 0}},
                  [](const json::Value& o, absl::Time) {
                    const json::Value* data = o.Find("data");
                    return Array{o.GetString({"type"}, "Opaque"), static_cast<int64_t>(data ? data->size() : 0)};
                  });
  }
  if (key == "services") {
    Printer p = Simple({{"Type", "string", "", "The type of the service.", 0},
                        {"Cluster-IP", "string", "", "The IP address of the service.", 0},
                        {"External-IP", "string", "", "The external IP address of the service.", 0},
                        {"Port(s)", "string", "", "The ports of the service.", 0}},
                       [](const json::Value& o, absl::Time) {
                         std::vector<std::string> ports, external;
                         for (const json::Value& port : ArrayAt(o, {"spec", "ports"})) {
                           std::string text = StrCat(Int(port, {"port"}));
                           if (Int(port, {"nodePort"}) > 0) StrAppend(&text, ":", Int(port, {"nodePort"}));
                           StrAppend(&text, "/", port.GetString({"protocol"}, "TCP"));
                           ports.push_back(text);
                         }
                         for (const json::Value& ip : ArrayAt(o, {"spec", "externalIPs"})) {
                           if (ip.is_string()) external.push_back(ip.as_string());
                         }
                         return Array{o.GetString({"spec", "type"}, "ClusterIP"), OrNone(o.GetString({"spec", "clusterIP"})),
                                      OrNone(Join(external, ",")), OrNone(Join(ports, ","))};
                       });
    p.columns.push_back({"Selector", "string", "", "Label selector of the pods the service targets.", 1});
    auto cells = p.cells;
    p.cells = [cells](const json::Value& o, absl::Time now) {
      Array out = cells(o, now);
      std::vector<std::string> selector;
      if (const json::Value* sel = o.Get({"spec", "selector"}); sel && sel->is_object()) {
        for (const auto& [k, v] : sel->as_object()) selector.push_back(StrCat(k, "=", v.is_string() ? v.as_string() : ""));
      }
      out.emplace_back(OrNone(Join(selector, ",")));
      return out;
    };
    return p;
  }
  if (key == "serviceaccounts") {
    return Simple({{"Secrets", "integer", "", "The number of secrets of the service account.", 0}},
                  [](const json::Value& o, absl::Time) {
                    const json::Value* secrets = o.Find("secrets");
                    return Array{static_cast<int64_t>(secrets ? secrets->size() : 0)};
                  });
  }
  if (key == "leases.coordination.k8s.io") {
    return Simple({{"Holder", "string", "", "The holder of the lease.", 0}},
                  [](const json::Value& o, absl::Time) { return Array{o.GetString({"spec", "holderIdentity"})}; });
  }
  if (key == "resourcequotas") {
    Printer p = Simple({}, [](const json::Value&, absl::Time) { return Array{}; });
    p.columns.push_back({"Request", "string", "", "Request represents a minimum amount of cpu/memory that a container may consume.", 0});
    p.columns.push_back({"Limit", "string", "", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.", 0});
    auto cells = p.cells;
    p.cells = [cells](const json::Value& o, absl::Time now) {
      Array out = cells(o, now);
      std::vector<std::string> request, limit;
      if (const json::Value* hard = o.Get({"status", "hard"}); hard && hard->is_object()) {
        for (const auto& [name, q] : hard->as_object()) {
          const json::Value* used = o.Get({"status", "used", name});
          std::string cell = StrCat(name, ": ", used && used->is_string() ? used->as_string() : "0", "/",
                                    q.is_string() ? q.as_string() : "");
          (name.rfind("limits.", 0) == 0 ? limit : request).push_back(cell);
        }
      }
      out.emplace_back(Join(request, ", "));
      out.emplace_back(Join(limit, ", "));
      return out;
    };
    return p;
  }
  if (key == "poddisruptionbudgets.policy") {
    return Simple({{"Min Available", "string", "", "The minimum number of pods that must be available.", 0},
                   {"Max Unavailable", "string", "", "The maximum number of pods that may be unavailable.", 0},
                   {"Allowed Disruptions", "integer", "", "Number of pod disruptions that are currently allowed.", 0}},
                  [](const json::Value& o, absl::Time) {
                    auto bound = [&](const char* f) -> std::string {
                      const json::Value* v = o.Get({"spec", f});
                      if (v == nullptr) return "N/A";
                      return v->is_int() ? std::to_string(v->as_int()) : v->is_string() ? v->as_string() : "N/A";
                    };
                    return Array{bound("minAvailable"), bound("maxUnavailable"), Int(o, {"status", "disruptionsAllowed"})};
                  });
  }
  if (key == "certificatesigningrequests.certificates.k8s.io") {
    // kubectl get csr: NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION CONDITION, as upstream.
    Printer p;
    p.columns = {NameColumn(), AgeColumn(),
                 {"SignerName", "string", "", "The signer the request is for.", 0},
                 {"Requestor", "string", "", "Who created the request.", 0},
                 {"RequestedDuration", "string", "", "spec.expirationSeconds.", 0},
                 {"Condition", "string", "", "Approved, Denied, Failed, Issued or Pending.", 0}};
    p.cells = [](const json::Value& o, absl::Time now) {
      std::vector<std::string> conditions;
      for (const json::Value& c : ArrayAt(o, {"status", "conditions"})) {
        if (c.GetString({"status"}, "True") == "True") conditions.push_back(c.GetString({"type"}));
      }
      if (!o.GetString({"status", "certificate"}).empty()) conditions.push_back("Issued");
      std::string condition = conditions.empty() ? "Pending" : absl::StrJoin(conditions, ",");
      const json::Value* e = o.Get({"spec", "expirationSeconds"});
      std::string duration = e && e->is_int() ? absl::FormatDuration(absl::Seconds(e->as_int())) : "<none>";
      return Array{o.GetString({"metadata", "name"}), Age(o, now), o.GetString({"spec", "signerName"}),
                   o.GetString({"spec", "username"}), duration, condition};
    };
    return p;
  }
  if (key == "priorityclasses.scheduling.k8s.io") {
    Printer p = Simple({{"Value", "integer", "", "The value of this priority class.", 0},
                        {"Global-Default", "boolean", "", "Whether this is the global default priority class.", 0}},
                       [](const json::Value& o, absl::Time) {
                         const json::Value* d = o.Find("globalDefault");
                         return Array{Int(o, {"value"}), d && d->is_bool() && d->as_bool()};
                       });
    p.columns.push_back({"PreemptionPolicy", "string", "", "Whether this class may preempt lower-priority pods.", 0});
    auto cells = p.cells;
    p.cells = [cells](const json::Value& o, absl::Time now) {
      Array out = cells(o, now);
      out.emplace_back(o.GetString({"preemptionPolicy"}, "PreemptLowerPriority"));
      return out;
    };
    return p;
  }
  if (key == "queues.scheduling.berth.dev") {
    return Simple({{"Parent", "string", "", "The parent queue; empty under the root.", 0},
                   {"Weight", "integer", "", "DRF weight among siblings.", 0},
                   {"Share", "string", "", "Weighted dominant share, as the scheduler last wrote it.", 0},
                   {"Pending", "integer", "", "Pods of this queue waiting to be scheduled.", 0}},
                  [](const json::Value& o, absl::Time) {
                    return Array{o.GetString({"spec", "parent"}), Int(o, {"spec", "weight"}),
                                 o.GetString({"status", "weightedDominantShare"}), Int(o, {"status", "pendingPods"})};
                  });
  }
  if (key == "customresourcedefinitions.apiextensions.k8s.io") {
    return Simple({{"Created At", "date", "", "The time the definition was created.", 0}},
                  [](const json::Value& o, absl::Time) { return Array{o.GetString({"metadata", "creationTimestamp"})}; },
                  false, false);
  }
  return Simple({}, [](const json::Value&, absl::Time) { return Array{}; });
}

}  // namespace berth::apiserver::server::table
