# The C sources are formatted with the checked-in .clang-format.
find_program(LM_CLANG_FORMAT NAMES clang-format clang-format-14)
file(GLOB LM_STYLE_FILES CONFIGURE_DEPENDS
     ${CMAKE_SOURCE_DIR}/core/*.c ${CMAKE_SOURCE_DIR}/core/*.h
     ${CMAKE_SOURCE_DIR}/tests/unit/*.c ${CMAKE_SOURCE_DIR}/tests/unit/*.h
     ${CMAKE_SOURCE_DIR}/tools/*.c
     ${CMAKE_SOURCE_DIR}/tests/conformance/*.c)
if(LM_CLANG_FORMAT)
  add_test(NAME style/clang-format
           COMMAND ${LM_CLANG_FORMAT} --dry-run --Werror ${LM_STYLE_FILES}
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
endif()
