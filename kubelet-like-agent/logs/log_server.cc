#include "kubelet-like-agent/logs/log_server.h"

#include <sys/stat.h>

#include <deque>
#include <fstream>

#include "absl/strings/numbers.h"
#include "core/strings/strings.h"
#include "kubelet-like-agent/init/log_writer.h"
#include "kubelet-like-agent/streaming/stream_routes.h"

namespace berth::agent {
namespace {

using http::Response;

Response Text(int status, std::string body) {
  Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

bool Flag(const http::Request& r, const char* name) {
  std::string v = r.Query(name);
  return v == "true" || v == "1" || v == "True";
}

// Appends the rendering of CRI lines in `text` that pass `query` (before tail/limit).
void Collect(std::string_view text, const LogQuery& query, std::deque<std::string>& out) {
  size_t start = 0;
  std::string partial;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) break;  // an incomplete last line: the writer is mid-write
    std::string_view raw = text.substr(start, nl - start);
    start = nl + 1;
    LogLine line;
    if (!ParseLogLine(raw, line)) continue;
    if (query.since != absl::InfinitePast() && ParseRfc3339(line.timestamp, absl::InfiniteFuture()) < query.since) continue;
    if (line.partial) {
      partial.append(line.text);
      continue;
    }
    std::string rendered = query.timestamps ? StrCat(line.timestamp, " ") : "";
    rendered.append(partial).append(line.text).append("\n");
    partial.clear();
    out.push_back(std::move(rendered));
  }
}

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

}  // namespace

std::string RenderLog(const std::string& path, const LogQuery& query, int64_t* offset) {
  std::deque<std::string> lines;
  Collect(Slurp(path + ".1"), query, lines);
  std::string current = Slurp(path);
  size_t complete = current.rfind('\n');
  complete = complete == std::string::npos ? 0 : complete + 1;
  Collect(std::string_view(current).substr(0, complete), query, lines);
  if (offset) *offset = static_cast<int64_t>(complete);
  if (query.tail_lines >= 0) {
    while (static_cast<int64_t>(lines.size()) > query.tail_lines) lines.pop_front();
  }
  std::string out;
  for (const std::string& l : lines) {
    if (query.limit_bytes >= 0 && static_cast<int64_t>(out.size() + l.size()) > query.limit_bytes) {
      out.append(l.substr(0, static_cast<size_t>(query.limit_bytes) - out.size()));
      break;
    }
    out += l;
  }
  return out;
}

absl::StatusOr<std::unique_ptr<LogServer>> LogServer::Start(const std::string& listen, runtime::Runtime& runtime,
                                                            const Clock& clock, std::optional<PortSecurity> security) {
  http::ServerOptions options;
  if (absl::Status s = http::ParseListenAddress(listen, options); !s.ok()) return s;
  std::unique_ptr<LogServer> self(new LogServer(runtime, clock));
  if (security.has_value()) {
    options.tls = security->tls;
    self->authorizer_ = security->authorizer;
  }
  LogServer* raw = self.get();
  auto server = http::StartServer(options, [raw](http::Request request,
                                                            std::shared_ptr<http::Responder> responder) {
    raw->Handle(request, std::move(responder));
  });
  if (!server.ok()) return server.status();
  self->server_ = std::move(*server);
  return self;
}

LogServer::~LogServer() {
  stopping_ = true;
  if (server_) server_->Stop();
  sessions_.reset();  // ends exec, attach and port-forward sessions (kills what exec started)
  std::vector<Follower> followers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    followers.swap(followers_);
  }
  for (auto& f : followers) f.thread.join();
}

void LogServer::Handle(const http::Request& request, std::shared_ptr<http::Responder> responder) {
  const auto& seg = request.segments;
  std::vector<std::string> parts;
  for (const std::string& s : seg) {
    if (!s.empty()) parts.push_back(s);
  }
  if (parts.size() == 1 && parts[0] == "healthz") return responder->Reply(Text(200, "ok"));
  if (authorizer_ != nullptr) {
    // A cache hit is a map lookup; a miss asks the apiserver once per user and verb per 5 minutes.
    std::string why;
    if (int status = authorizer_->Check(request, why); status != 0) return responder->Reply(Text(status, why + "\n"));
  }
  if (streaming::ServeStreamRequest(request, responder, runtime_, *sessions_)) return;
  if (request.method == "GET" && parts.size() == 1 && parts[0] == "metrics") {
    std::function<std::string()> render;
    {
      std::lock_guard<std::mutex> lock(mu_);
      render = metrics_;
    }
    http::Response r = Text(200, render ? render() : "");
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return responder->Reply(std::move(r));
  }
  if (request.method != "GET" || parts.size() != 4 || parts[0] != "containerLogs") {
    return responder->Reply(Text(404, "served: /healthz, /metrics, /containerLogs/{namespace}/{pod}/{container}\n"));
  }
  std::string pod_key = parts[1] + "/" + parts[2];
  const std::string& container = parts[3];
  LogQuery query;
  query.follow = Flag(request, "follow");
  query.timestamps = Flag(request, "timestamps");
  query.previous = Flag(request, "previous");
  auto int_param = [&](const char* name, int64_t* out) {
    if (!request.HasQuery(name)) return true;
    std::string v = request.Query(name);
    return absl::SimpleAtoi(Sv(std::string_view(v)), out) && *out >= 0;
  };
  int64_t since_seconds = -1;
  if (!int_param("tailLines", &query.tail_lines) || !int_param("limitBytes", &query.limit_bytes) ||
      !int_param("sinceSeconds", &since_seconds)) {
    return responder->Reply(Text(400, "tailLines, limitBytes and sinceSeconds must be non-negative integers\n"));
  }
  if (since_seconds >= 0) query.since = clock_.Now() - absl::Seconds(since_seconds);
  if (request.HasQuery("sinceTime")) query.since = ParseRfc3339(request.Query("sinceTime"), absl::InfinitePast());
  auto all = runtime_.List();
  if (!all.ok()) return responder->Reply(Text(500, std::string(all.status().message())));
  const runtime::ContainerStatus* found = nullptr;
  for (const runtime::ContainerStatus& s : *all) {
    if (s.pod_key == pod_key && s.container_name == container) found = &s;
  }
  if (found == nullptr) {
    return responder->Reply(Text(404, StrCat("container \"", container, "\" in pod \"", parts[2], "\" has not started on this node\n")));
  }
  std::string path = query.previous ? found->previous_log_path : found->log_path;
  if (path.empty()) {
    return responder->Reply(Text(400, StrCat("previous terminated container \"", container, "\" in pod \"", parts[2],
                                             "\" not found\n")));
  }
  int64_t offset = 0;
  std::string body = RenderLog(path, query, &offset);
  bool running = found->state == runtime::State::kRunning;
  if (!query.follow || query.previous || !running) return responder->Reply(Text(200, std::move(body)));
  auto stream = responder->StartStream(200, "text/plain; charset=utf-8");
  if (!body.empty()) stream->Write(body);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = followers_.begin(); it != followers_.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = followers_.erase(it);
    } else {
      ++it;
    }
  }
  auto done = std::make_shared<std::atomic<bool>>(false);
  followers_.push_back({std::thread([this, stream, path, id = found->id, query, offset, done] {
                          Follow(stream, path, id, query, offset);
                          *done = true;
                        }),
                        done});
}

void LogServer::Follow(std::shared_ptr<http::Stream> stream, std::string path, std::string container_id,
                       LogQuery query, int64_t offset) {
  LogQuery tail_free = query;
  tail_free.tail_lines = -1;
  tail_free.since = absl::InfinitePast();
  int quiet_rounds_after_exit = 0;
  while (!stopping_ && !stream->Closed()) {
    struct stat st;
    if (stat(path.c_str(), &st) == 0) {
      if (st.st_size < offset) offset = 0;  // rotated: the new file starts over
      if (st.st_size > offset) {
        std::ifstream f(path, std::ios::binary);
        f.seekg(offset);
        std::string chunk((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        size_t complete = chunk.rfind('\n');
        if (complete != std::string::npos) {
          std::deque<std::string> lines;
          Collect(std::string_view(chunk).substr(0, complete + 1), tail_free, lines);
          std::string out;
          for (const std::string& l : lines) out += l;
          if (!out.empty() && !stream->Write(out)) break;
          offset += static_cast<int64_t>(complete + 1);
          quiet_rounds_after_exit = 0;
          continue;
        }
      }
    }
    auto s = runtime_.Inspect(container_id);
    if (!s.ok() || s->state != runtime::State::kRunning) {
      // The container ended: its init flushed the last lines before it went; take them, then end.
      if (++quiet_rounds_after_exit > 2) break;
    }
    clock_.SleepFor(absl::Milliseconds(50));
  }
  stream->Close();
}

}  // namespace berth::agent
