# sluice_flatbuffers(target SCHEMAS a.fbs ...): generates <name>_generated.h next to the build-tree
# mirror of each schema (so `#include "node/wire/x_generated.h"` works) and makes `target` an
# INTERFACE library carrying them.
function(sluice_flatbuffers target)
  cmake_parse_arguments(ARG "" "" "SCHEMAS" ${ARGN})
  set(outputs)
  foreach(schema ${ARG_SCHEMAS})
    get_filename_component(name ${schema} NAME_WE)
    get_filename_component(absolute ${schema} ABSOLUTE)
    file(RELATIVE_PATH relative_dir ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
    set(out_dir ${PROJECT_BINARY_DIR}/${relative_dir})
    set(output ${out_dir}/${name}_generated.h)
    add_custom_command(
      OUTPUT ${output}
      COMMAND flatbuffers::flatc --cpp --cpp-std c++17 --scoped-enums -o ${out_dir} ${absolute}
      DEPENDS ${absolute} flatbuffers::flatc
      COMMENT "flatc ${name}.fbs"
      VERBATIM)
    list(APPEND outputs ${output})
  endforeach()
  add_custom_target(${target}_generate DEPENDS ${outputs})
  add_library(${target} INTERFACE)
  add_dependencies(${target} ${target}_generate)
  target_include_directories(${target} INTERFACE ${PROJECT_BINARY_DIR})
  target_link_libraries(${target} INTERFACE flatbuffers::flatbuffers)
endfunction()
