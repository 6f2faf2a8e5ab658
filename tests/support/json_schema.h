// Validates JSON documents against the project's schemas (docs/schemas/*.schema.json) with
// Debian's python3-jsonschema, as a user's tooling would. For tests of every JSON output.
#pragma once

#include <string>

namespace fwgate::testing {

// "" when `json_text` is valid against docs/schemas/<schema_name>; else the validator's messages
// (or why it could not run: python3-jsonschema missing is reported, never a pass).
std::string JsonSchemaErrors(const std::string& json_text, const std::string& schema_name);

}  // namespace fwgate::testing
