# Lua unit tests: each tests/lua/test_*.lua runs under the standalone lua5.4 interpreter
# against the source tree's lua/ modules (no binary needed), except the files listed in
# LM_LUA_TESTS_IN_BINARY: their cases need the C engine (luamig.core: real connections, the
# reflection, the JSON escaper), so they run inside the luamig binary (run_in_luamig.py), with the source tree's
# lua/ modules too (LUAMIG_LUA_DIR).
set(LM_LUA_TESTS_IN_BINARY test_batch_rebuild test_autogenerate test_core_memory)
find_program(LUA54_EXECUTABLE NAMES lua5.4 lua54)
file(GLOB LM_LUA_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/test_*.lua)
foreach(src ${LM_LUA_TESTS})
  get_filename_component(name ${src} NAME_WE)
  if(name IN_LIST LM_LUA_TESTS_IN_BINARY)
    add_test(NAME lua/${name}
             COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/run_in_luamig.py
                     $<TARGET_FILE:luamig> ${src})
    set_tests_properties(lua/${name} PROPERTIES ENVIRONMENT
      "LUAMIG_LUA_DIR=${CMAKE_SOURCE_DIR}/lua;PYTHONDONTWRITEBYTECODE=1")
  elseif(LUA54_EXECUTABLE)
    add_test(NAME lua/${name} COMMAND ${LUA54_EXECUTABLE} ${src})
    set_tests_properties(lua/${name} PROPERTIES ENVIRONMENT
      "LUA_PATH=${CMAKE_SOURCE_DIR}/lua/?.lua\;${CMAKE_SOURCE_DIR}/lua/?/init.lua\;${CMAKE_CURRENT_LIST_DIR}/?.lua")
  endif()
endforeach()
if(NOT LUA54_EXECUTABLE)
  message(WARNING "lua5.4 not found: the tests/lua cases run by lua5.4 are not registered")
endif()
