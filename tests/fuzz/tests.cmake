# Every fuzz harness, a short bounded run each (tests/fuzz/run -t): a crash,
# a hang or a sanitizer report fails the suite. Longer runs: tests/fuzz/run
# -t 600. Needs clang; tests/run installs it.
add_test(NAME fuzz/short
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/run -t 20 -b ${CMAKE_BINARY_DIR}/fuzz)
set_tests_properties(fuzz/short PROPERTIES TIMEOUT 900)
