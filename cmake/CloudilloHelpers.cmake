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
    ENVIRONMENT "CLOUDILLO_SOURCE_DIR=${CMAKE_SOURCE_DIR};CLOUDILLO_SHARED_TESTDATA=${CMAKE_SOURCE_DIR}/../shared/testdata;CLOUDILLO_TEST_ENV_FILE=${CMAKE_BINARY_DIR}/test-env/env")
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

# cloudillo_migrations(TARGET name DIR dir NAMESPACE ns)
# Embeds dir/V###__what.sql into a generated source defining
#   const std::vector<cloudillo::db::Migration>& ns::Migrations();
# so a binary carries its schema. CMake re-runs when a file changes.
function(cloudillo_migrations target)
  cmake_parse_arguments(A "" "DIR;NAMESPACE" "" ${ARGN})
  file(GLOB files CONFIGURE_DEPENDS ${A_DIR}/V*__*.sql)
  list(SORT files)
  set(body "")
  foreach(f ${files})
    get_filename_component(fname ${f} NAME_WE)
    string(REGEX MATCH "^V([0-9]+)__(.*)$" _ ${fname})
    math(EXPR version "${CMAKE_MATCH_1}")
    set(name ${CMAKE_MATCH_2})
    file(READ ${f} sql)
    # The SQL is copied into the generated source at configure time: an edited
    # migration must configure again, or the build keeps the old text.
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${f})
    string(APPEND body "      {${version}, \"${name}\", R\"SQL(${sql})SQL\"},\n")
  endforeach()
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${target}_migrations.cc)
  file(WRITE ${out}.tmp "// Generated from ${A_DIR}; do not edit.\n#include \"cloudillo/db/migrate.h\"\nnamespace ${A_NAMESPACE} {\nconst std::vector<cloudillo::db::Migration>& Migrations() {\n  static const auto* m = new std::vector<cloudillo::db::Migration>{\n${body}  };\n  return *m;\n}\n}  // namespace ${A_NAMESPACE}\n")
  configure_file(${out}.tmp ${out} COPYONLY)
  add_library(${target} STATIC ${out})
  target_link_libraries(${target} PUBLIC cloudillo_db)
endfunction()

# cloudillo_fuzz(NAME SRCS ... DEPS ...): a libFuzzer target, only in a
# CLOUDILLO_FUZZ=ON build (clang). tools/test runs each for a bounded time on its
# corpus folder fuzz/corpus/NAME beside the source.
function(cloudillo_fuzz name)
  if(NOT CLOUDILLO_FUZZ)
    return()
  endif()
  cmake_parse_arguments(A "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${A_SRCS})
  target_link_libraries(${name} PRIVATE ${A_DEPS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
endfunction()
