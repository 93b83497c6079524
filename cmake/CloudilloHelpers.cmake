# One helper per target kind keeps every CMakeLists.txt to a few lines
# (the shape of abseil's absl_cc_library / absl_cc_test).

# cloudillo_library(NAME SRCS ... DEPS ... [PUBLIC_INCLUDE dir])
function(cloudillo_library name)
  cmake_parse_arguments(A "" "" "SRCS;DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SRCS})
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(${name} PUBLIC ${A_DEPS})
  target_compile_options(${name} PRIVATE -Wall -Wextra -Wno-unused-parameter)
endfunction()

# cloudillo_test(NAME SRCS ... DEPS ... LABELS unit|integration [FIXTURES name])
function(cloudillo_test name)
  cmake_parse_arguments(A "" "" "SRCS;DEPS;LABELS;FIXTURES" ${ARGN})
  add_executable(${name} ${A_SRCS})
  target_link_libraries(${name} PRIVATE ${A_DEPS} cloudillo_testing GTest::gtest GTest::gmock GTest::gtest_main)
  add_test(NAME ${name} COMMAND ${name})
  if(NOT A_LABELS)
    set(A_LABELS unit)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}"
    ENVIRONMENT "CLOUDILLO_SHARED_TESTDATA=${CMAKE_SOURCE_DIR}/../shared/testdata;CLOUDILLO_TEST_ENV_FILE=${CMAKE_BINARY_DIR}/test-env/env")
  if(A_FIXTURES)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED "${A_FIXTURES}")
  endif()
endfunction()

# cloudillo_bench(NAME SRCS ... DEPS ...)
function(cloudillo_bench name)
  cmake_parse_arguments(A "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${A_SRCS})
  target_link_libraries(${name} PRIVATE ${A_DEPS} benchmark::benchmark benchmark::benchmark_main)
endfunction()
