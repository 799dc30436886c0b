#!/usr/bin/env python3
"""Validate JSON documents against the official schemas in ../shared/reference/schemas.

Usage: validate-json-schema.py SCHEMA_FILE DOCUMENT [DOCUMENT...]

Relative and absolute $refs (e.g. "defs.json#/definitions/int64" or
"https://opencontainers.org/schema/image/defs.json") are resolved to the file of the same
name next to SCHEMA_FILE, so validation works offline. Exits 1 and prints every error when a
document does not validate.
"""
import json
import os
import sys

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import specification_with


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    schema_path = sys.argv[1]
    folder = os.path.dirname(os.path.abspath(schema_path))
    with open(schema_path) as f:
        schema = json.load(f)
    dialect = schema.get("$schema", "http://json-schema.org/draft-04/schema#")

    def retrieve(uri: str) -> Resource:
        name = uri.split("#")[0].rstrip("/").rsplit("/", 1)[-1]
        if not name.endswith(".json"):
            name += ".json"
        with open(os.path.join(folder, name)) as f:
            contents = json.load(f)
        return Resource.from_contents(contents, default_specification=specification_with(dialect))

    registry = Registry(retrieve=retrieve)
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema, registry=registry, format_checker=validator_class.FORMAT_CHECKER)
    failed = False
    for path in sys.argv[2:]:
        with open(path) as f:
            document = json.load(f)
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        for error in errors:
            failed = True
            print(f"{path}: {'/'.join(map(str, error.path)) or '(root)'}: {error.message}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
