# cmake -DROOT=<source tree> -P check_layers.cmake
# The layering rules of docs/architecture.md, checked on every build (target `layering`, part of
# ALL) so that a violation fails the build, not a review:
#   core/                 knows no server, database, controller or agent of ours
#   controllers/          reach state only through the API (no apiserver/, no agent)
#   kubelet-like-agent/   likewise (the controller SDK in controllers/runtime/ is allowed)
#   apiserver/            no controllers, no agent
#   third-party adapters  <rocksdb/...> only in apiserver/storage/rocksdb/, <cpprest/...> only in
#                         the two cpprestsdk adapters, <yaml-cpp/...> only in core/yaml/,
#                         <boost/beast...> only in core/http/
#   time                  outside core/time/ (and the log's own timestamps) nothing reads a clock
#                         or sleeps directly: time comes from an injected Clock (style.md 2.7)
# Tests, benchmarks and test helpers (unit/, e2e/, bench/, testing/) may include anything.
cmake_minimum_required(VERSION 3.20)
if(NOT ROOT)
  message(FATAL_ERROR "usage: cmake -DROOT=<source tree> -P check_layers.cmake")
endif()

# folder prefix -> regex of project include paths it must not use
set(forbidden_core "^(apiserver|controllers|kubelet-like-agent|cli)/")
set(forbidden_controllers "^(apiserver|kubelet-like-agent)/")
set(forbidden_agent "^(apiserver/|controllers/builtin/)")
set(forbidden_apiserver "^(controllers|kubelet-like-agent)/")

# third-party header prefix -> files (relative) allowed to include it
set(adapter_rocksdb "^apiserver/storage/rocksdb/")
set(adapter_cpprest "^(core/http/cpprest_server\\.cc|core/client/cpprest_transport\\.cc)$")
set(adapter_yaml "^core/yaml/")
set(adapter_beast "^core/http/")

set(violations "")
foreach(layer core controllers kubelet-like-agent apiserver)
  file(GLOB_RECURSE sources RELATIVE ${ROOT} ${ROOT}/${layer}/*.h ${ROOT}/${layer}/*.cc)
  foreach(f ${sources})
    file(STRINGS ${ROOT}/${f} includes REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
    foreach(line ${includes})
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"].*$" "\\1" path "${line}")
      if(layer STREQUAL "core")
        set(rule "${forbidden_core}")
      elseif(layer STREQUAL "controllers")
        set(rule "${forbidden_controllers}")
      elseif(layer STREQUAL "kubelet-like-agent")
        set(rule "${forbidden_agent}")
      else()
        set(rule "${forbidden_apiserver}")
      endif()
      if(path MATCHES "${rule}")
        string(APPEND violations "  ${f}: ${layer}/ may not include \"${path}\"\n")
      endif()
      foreach(adapter rocksdb cpprest yaml beast)
        if(adapter STREQUAL "rocksdb")
          set(prefix "^rocksdb/")
        elseif(adapter STREQUAL "cpprest")
          set(prefix "^(cpprest|pplx)/")
        elseif(adapter STREQUAL "yaml")
          set(prefix "^yaml-cpp/")
        else()
          set(prefix "^boost/beast")
        endif()
        if(path MATCHES "${prefix}" AND NOT f MATCHES "${adapter_${adapter}}")
          string(APPEND violations "  ${f}: only its adapter may include <${path}>\n")
        endif()
      endforeach()
    endforeach()
  endforeach()
endforeach()

foreach(layer core controllers kubelet-like-agent apiserver)
  file(GLOB_RECURSE sources RELATIVE ${ROOT} ${ROOT}/${layer}/*.h ${ROOT}/${layer}/*.cc)
  foreach(f ${sources})
    if(f MATCHES "^core/time/" OR f STREQUAL "core/log/log.cc")
      continue()
    endif()
    file(STRINGS ${ROOT}/${f} uses REGEX "absl::Now\\(\\)|steady_clock::now\\(|system_clock::now\\(|sleep_for\\(|usleep\\(")
    foreach(line ${uses})
      string(STRIP "${line}" line)
      string(APPEND violations "  ${f}: reads the clock or sleeps directly (inject a Clock): ${line}\n")
    endforeach()
  endforeach()
endforeach()

if(violations)
  message(FATAL_ERROR "layering violations (see cmake/check_layers.cmake):\n${violations}")
endif()
