#include "tests/support/json_schema.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "tests/support/subprocess.h"

namespace fwgate::testing {

std::string JsonSchemaErrors(const std::string& json_text, const std::string& schema_name) {
  char tmpl[] = "/tmp/fwgate-schema-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return "cannot create a temporary file";
  close(fd);
  std::string path = tmpl;
  std::ofstream(path, std::ios::binary) << json_text;
  static const char* kCheck =
      "import json, sys, jsonschema\n"
      "schema = json.load(open(sys.argv[1]))\n"
      "cls = jsonschema.validators.validator_for(schema)\n"
      "cls.check_schema(schema)\n"
      "errors = [e.json_path + ': ' + e.message for e in "
      "cls(schema).iter_errors(json.load(open(sys.argv[2])))]\n"
      "print('\\n'.join(errors[:20]))\n"
      "sys.exit(1 if errors else 0)\n";
  ProcessResult r =
      RunProcess({"/usr/bin/python3", "-c", kCheck,
                  std::string(FWGATE_SOURCE_DIR) + "/docs/schemas/" + schema_name, path});
  unlink(path.c_str());
  if (r.exit_code == 0) return "";
  return "schema " + schema_name + " (exit " + std::to_string(r.exit_code) + "): " + r.out + r.err;
}

}  // namespace fwgate::testing
