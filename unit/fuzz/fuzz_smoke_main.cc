// A deterministic stand-in for libFuzzer under gcc: runs the fuzz target over the seed corpus
// and over a fixed number of mutations of it (seeded, so a failure reproduces). Prints the
// count and exits 0 unless the target crashes.

#include <cstdint>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fuzz_smoke CORPUS_DIR [ITERATIONS]\n");
    return 2;
  }
  size_t iterations = argc > 2 ? std::stoul(argv[2]) : 20000;
  std::vector<std::string> corpus;
  for (const auto& entry : std::filesystem::directory_iterator(argv[1])) {
    std::ifstream f(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    corpus.push_back(ss.str());
  }
  if (corpus.empty()) corpus.push_back("\x00{}");
  for (const auto& c : corpus) LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(c.data()), c.size());
  std::mt19937_64 rng(12345);
  // FUZZ_TRACE=file keeps the input being run, to reproduce a crash.
  const char* trace = std::getenv("FUZZ_TRACE");
  for (size_t i = 0; i < iterations; ++i) {
    std::string s = corpus[rng() % corpus.size()];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
      switch (rng() % 5) {
        case 0: if (!s.empty() && pos < s.size()) s[pos] = static_cast<char>(rng()); break;
        case 1: s.insert(pos, 1, "{}[]\":,\\0-9aZ\n #!$"[rng() % 19]); break;
        case 2: if (!s.empty() && pos < s.size()) s.erase(pos, 1 + rng() % 4); break;
        case 3: s.insert(pos, std::string(1 + rng() % 64, "[{"[rng() % 2])); break;
        case 4: { const auto& o = corpus[rng() % corpus.size()]; s.insert(pos, o.substr(0, rng() % (o.size() + 1))); break; }
      }
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    if (trace != nullptr) {
      rusage ru{};
      getrusage(RUSAGE_SELF, &ru);
      if (ru.ru_maxrss > 400 * 1024) {
        std::ofstream(trace, std::ios::binary | std::ios::trunc) << s;
        std::fprintf(stderr, "input %zu raised max RSS to %ld KB (saved in %s)\n", i, ru.ru_maxrss, trace);
        return 3;
      }
    }
  }
  std::printf("fuzz_smoke: %zu inputs, no crash\n", corpus.size() + iterations);
  return 0;
}
