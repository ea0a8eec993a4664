#!/usr/bin/env python3
"""Writes cli/data/create-only.json: for every resource type stackpro's templates use,
the properties whose change makes CloudFormation replace the resource (the resource
schemas' `createOnlyProperties`, as the pinned cfn-lint ships them).

`stackpro deploy` reads this table (compiled in) to know a replacement before the change
set says so. Run with the project venv's Python after changing templates or cfn-lint:

    .venv/bin/python scripts/gen-create-only.py          # rewrite the file
    .venv/bin/python scripts/gen-create-only.py --check  # exit 1 if it is stale
"""
import json
import pathlib
import re
import sys

import cfnlint

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "cli" / "data" / "create-only.json"
SCHEMAS = pathlib.Path(cfnlint.__file__).parent / "data" / "schemas"


def template_types():
    types = set()
    for path in (ROOT / "templates").glob("*.j2"):
        types.update(re.findall(r"Type:\s*(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+)", path.read_text()))
    return sorted(types)


def main():
    providers = json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text())
    table = {}
    for type_name in template_types():
        schema = json.loads((SCHEMAS / "resources" / f"{providers[type_name]}.json").read_text())
        props = sorted(
            p.removeprefix("/properties/") for p in schema.get("createOnlyProperties", [])
        )
        table[type_name] = props
    text = json.dumps(table, indent=2, sort_keys=True) + "\n"
    if "--check" in sys.argv:
        if OUT.read_text() != text:
            print(f"{OUT.relative_to(ROOT)} is stale: run .venv/bin/python scripts/gen-create-only.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)} ({len(table)} resource types)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
