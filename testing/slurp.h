#pragma once
// File: testing/slurp.h
// A whole file as a string ("" if it cannot be read): what tests compare against.

#include <fstream>
#include <sstream>
#include <string>

namespace berth::testing {

inline std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace berth::testing
