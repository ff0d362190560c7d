# cmake -DOUT=file.cc -DDIR=dir -DFUNC=Name -P embed_files.cmake
# Writes a C++ source defining std::map<std::string, std::string> FUNC() with every *.json file
# under DIR (relative path -> content), so binaries carry their schemas.
file(GLOB_RECURSE files RELATIVE ${DIR} ${DIR}/*.json)
list(SORT files)
set(body "#include <map>\n#include <string>\n\nnamespace berth {\nstd::map<std::string, std::string> ${FUNC}() {\n  return {\n")
foreach(f ${files})
  file(READ ${DIR}/${f} content)
  string(APPEND body "    {\"${f}\", R\"berth_embed(${content})berth_embed\"},\n")
endforeach()
string(APPEND body "  };\n}\n}  // namespace berth\n")
file(WRITE ${OUT}.tmp "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
