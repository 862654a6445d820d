# Conformance against answers recorded from the real Alembic 1.8.1.
#   dag/*.json     revision DAG cases (heads, resolution, plans, version-table
#                  changes, errors); dag_query answers them through revmap.h
#                  and run_dag.py compares, one ctest per case.

add_executable(dag_query ${CMAKE_CURRENT_LIST_DIR}/dag_query.c)
target_compile_options(dag_query PRIVATE ${LM_WARNINGS})
target_link_libraries(dag_query PRIVATE luamig_core)

file(GLOB LM_DAG_CASES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/dag/*.json)
foreach(case ${LM_DAG_CASES})
  get_filename_component(name ${case} NAME_WE)
  add_test(NAME conformance/dag/${name}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/run_dag.py
                   --query $<TARGET_FILE:dag_query> ${case})
  set_tests_properties(conformance/dag/${name} PROPERTIES
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1" TIMEOUT 300)
endforeach()

#   format/*.json  what heads/branches/history/show/current print, recorded
#                  from Alembic by tools/record_format.py from spec_*.json.
file(GLOB LM_FORMAT_CASES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/format/[!s]*.json)
foreach(case ${LM_FORMAT_CASES})
  get_filename_component(name ${case} NAME_WE)
  add_test(NAME conformance/dag/format_${name}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/run_format.py
                   --query $<TARGET_FILE:dag_query> ${case})
  set_tests_properties(conformance/dag/format_${name} PROPERTIES
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1" TIMEOUT 120)
endforeach()
