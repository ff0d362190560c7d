# berth_cc_library(NAME n SRCS ... DEPS ... [PRIVATE_DEPS ...])
#   Declares berth_<folder>_<n> with the alias berth::<n>. Include paths are repo-root based,
#   so code includes "core/json/value.h" and the build graph decides what may be included.
function(berth_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(berth_${ARG_NAME} STATIC ${ARG_SRCS})
  add_library(berth::${ARG_NAME} ALIAS berth_${ARG_NAME})
  target_include_directories(berth_${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(berth_${ARG_NAME} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# berth_cc_test(NAME n SRCS ... DEPS ...): one GoogleTest executable per module, each test
# registered with CTest through gtest_discover_tests.
function(berth_cc_test)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_include_directories(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  include(GoogleTest)
  gtest_discover_tests(${ARG_NAME} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS unit)
endfunction()
