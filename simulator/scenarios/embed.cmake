# Writes the scenario table into a C++ source as a raw string (the program needs no data files).
file(READ ${IN} content)
file(WRITE ${OUT} "// Generated from simulator/scenarios/scenarios.json; do not edit.\n"
     "#include \"simulator/scenarios/scenario.h\"\n"
     "namespace fwgate::scenarios {\n"
     "std::string_view BundledScenarios() {\n  static const char k[] = R\"fwgate_json(${content})fwgate_json\";\n"
     "  return {k, sizeof(k) - 1};\n}\n}  // namespace fwgate::scenarios\n")
