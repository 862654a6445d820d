# Lua unit tests: each tests/lua/test_*.lua runs under the standalone lua5.4 interpreter
# against the source tree's lua/ modules (no binary needed).
find_program(LUA54_EXECUTABLE NAMES lua5.4 lua54)
if(LUA54_EXECUTABLE)
  file(GLOB LM_LUA_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/test_*.lua)
  foreach(src ${LM_LUA_TESTS})
    get_filename_component(name ${src} NAME_WE)
    add_test(NAME lua/${name} COMMAND ${LUA54_EXECUTABLE} ${src})
    set_tests_properties(lua/${name} PROPERTIES ENVIRONMENT
      "LUA_PATH=${CMAKE_SOURCE_DIR}/lua/?.lua\;${CMAKE_SOURCE_DIR}/lua/?/init.lua\;${CMAKE_CURRENT_LIST_DIR}/?.lua")
  endforeach()
else()
  message(WARNING "lua5.4 not found: the tests/lua cases are not registered")
endif()
