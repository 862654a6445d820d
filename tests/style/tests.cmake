# The C sources are formatted with the checked-in .clang-format.
find_program(LM_CLANG_FORMAT NAMES clang-format clang-format-14)
file(GLOB LM_STYLE_FILES CONFIGURE_DEPENDS
     ${CMAKE_SOURCE_DIR}/core/*.c ${CMAKE_SOURCE_DIR}/core/*.h
     ${CMAKE_SOURCE_DIR}/tests/unit/*.c ${CMAKE_SOURCE_DIR}/tests/unit/*.h
     ${CMAKE_SOURCE_DIR}/tools/*.c
     ${CMAKE_SOURCE_DIR}/lib/*.c ${CMAKE_SOURCE_DIR}/include/*.h
     ${CMAKE_SOURCE_DIR}/examples/c/*.c ${CMAKE_SOURCE_DIR}/tests/integration/*.c
     ${CMAKE_SOURCE_DIR}/tests/conformance/*.c)
if(LM_CLANG_FORMAT)
  add_test(NAME style/clang-format
           COMMAND ${LM_CLANG_FORMAT} --dry-run --Werror ${LM_STYLE_FILES}
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
endif()

# The embedded Lua modules: every require at module level, an acyclic module graph, and no
# comparison with a database name outside lua/luamig/sqldialect/ and lua/luamig/dialects/.
find_program(LUA54_EXECUTABLE NAMES lua5.4 lua54)
if(LUA54_EXECUTABLE)
  add_test(NAME style/lua_graph
           COMMAND ${LUA54_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/lua_graph.lua ${CMAKE_SOURCE_DIR}/lua)
endif()
