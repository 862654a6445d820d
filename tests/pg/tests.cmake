# The throwaway PostgreSQL server shared by every test that needs one: the
# ctest fixture "postgres". pg/start initdb's and starts a server under
# test-tmp/pg and writes its connection info to test-tmp/pg.env (read it with
# tests/lib/pg.py); pg/stop stops it and removes everything. A test that needs
# the server says FIXTURES_REQUIRED postgres.
#
# Without PostgreSQL installed pg/start skips (exit 77), except under
# CI=true, where it fails: CI must never pass by skipping the database.

set(LM_PG_FIXTURE ${CMAKE_CURRENT_LIST_DIR}/pg_fixture.py)
set(LM_PG_ENV_FILE ${CMAKE_BINARY_DIR}/test-tmp/pg.env)

add_test(NAME pg/start
         COMMAND ${Python3_EXECUTABLE} ${LM_PG_FIXTURE} start ${CMAKE_BINARY_DIR}/test-tmp)
set_tests_properties(pg/start PROPERTIES
  FIXTURES_SETUP postgres SKIP_RETURN_CODE 77 TIMEOUT 180 RESOURCE_LOCK lm_pg_server)

add_test(NAME pg/stop
         COMMAND ${Python3_EXECUTABLE} ${LM_PG_FIXTURE} stop ${CMAKE_BINARY_DIR}/test-tmp)
set_tests_properties(pg/stop PROPERTIES
  FIXTURES_CLEANUP postgres TIMEOUT 120 RESOURCE_LOCK lm_pg_server)

# The helpers of tests/lib/pg.py, pinned against the real server.
add_test(NAME pg/test_pg_helpers
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/test_pg_helpers.py)
set_tests_properties(pg/test_pg_helpers PROPERTIES
  ENVIRONMENT "${LM_TEST_ENV};LUAMIG_TEST_PG_ENV=${LM_PG_ENV_FILE}"
  FIXTURES_REQUIRED postgres SKIP_RETURN_CODE 77 TIMEOUT 300)

# The C unit test of core/driver_pg.c (built by tests/CMakeLists.txt).
if(TEST unit/test_driver_pg)
  set_tests_properties(unit/test_driver_pg PROPERTIES
    ENVIRONMENT "${LM_TEST_ENV};LUAMIG_TEST_PG_ENV=${LM_PG_ENV_FILE}"
    FIXTURES_REQUIRED postgres SKIP_RETURN_CODE 77 TIMEOUT 300)
endif()
