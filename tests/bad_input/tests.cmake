# The bad-input catalogue (tests/bad_input/test_bad_input.py): each malformed
# input gives its exit status and one line naming the culprit, with no
# sanitizer report and the database unchanged, on SQLite and PostgreSQL.
add_test(NAME bad_input/catalogue
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/test_bad_input.py)
set_tests_properties(bad_input/catalogue PROPERTIES
  ENVIRONMENT "${LM_TEST_ENV}" FIXTURES_REQUIRED postgres TIMEOUT 900)
