#!/usr/bin/env python3
"""Regenerates the counts and the two indexes of cases/README.md from the case files.

The prose of the README is written by hand; only the parts between the
`<!-- counts:... -->` and `<!-- index:... -->` markers come from here, so the index
cannot drift from the catalogue. Run it after adding or changing a case:

    python3 cases/index.py          # rewrite README.md
    python3 cases/index.py --check  # exit 1 if README.md is stale (for CI)
"""
import collections
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(ROOT, "README.md")
SKIP_DIRS = {"profiles", "openapi"}
ENDPOINTS = ["authorize", "token", "revoke", "discovery", "cross"]
DOCS = ["RFC6749", "RFC6750", "RFC7009", "RFC7523", "RFC7636", "RFC8414", "RFC8693", "RFC9700", "OIDC", "spec", "notes"]
VERDICT = {"MUST": "fail", "SHOULD": "warn", "MAY": "recorded", "INFO": "recorded"}


def load():
    """Every case with the file it lives in and that file's description."""
    out = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        rel = os.path.relpath(dirpath, ROOT)
        if rel == ".":
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")]
            continue
        for name in sorted(filenames):
            if name.endswith(".json") and not name.endswith(".schema.json"):
                with open(os.path.join(dirpath, name), encoding="utf-8") as fh:
                    doc = json.load(fh)
                for case in doc["cases"]:
                    out.append((os.path.join(rel, name).replace(os.sep, "/"), doc.get("description", ""), case))

    def order(item):
        endpoint = item[2]["id"].split(".")[0]
        rank = ENDPOINTS.index(endpoint) if endpoint in ENDPOINTS else len(ENDPOINTS)
        return (rank, endpoint, item[0])

    return sorted(out, key=order)


def cell(text):
    return text.replace("|", "\\|").replace("\n", " ")


def counts(cases):
    by_endpoint = collections.Counter(c["id"].split(".")[0] for _, _, c in cases)
    by_level = collections.Counter(c["level"] for _, _, c in cases)
    lines = ["| endpoint | cases |", "|---|---:|"]
    for e in sorted(by_endpoint, key=lambda e: (ENDPOINTS.index(e) if e in ENDPOINTS else 99, e)):
        lines.append("| %s | %d |" % (e, by_endpoint[e]))
    lines += ["| **total** | **%d** |" % len(cases), "", "| level | cases | verdict when broken |", "|---|---:|---|"]
    for level in ("MUST", "SHOULD", "MAY", "INFO"):
        if by_level.get(level):
            lines.append("| %s | %d | %s |" % (level, by_level[level], VERDICT[level]))
    return "\n".join(lines)


def section_key(section):
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.\s]", section)]


def index(cases):
    by_endpoint = collections.Counter(c["id"].split(".")[0] for _, _, c in cases)
    lines = ["## Index by endpoint"]
    endpoint = path = None
    for file, description, c in cases:
        e = c["id"].split(".")[0]
        if e != endpoint:
            lines += ["", "### %s (%d)" % (e, by_endpoint[e])]
            endpoint, path = e, None
        if file != path:
            lines += ["", "`%s`: %s" % (file, description), "", "| id | level | title | clauses |", "|---|---|---|---|"]
            path = file
        refs = ", ".join(sorted({"%s %s" % (r["doc"], r["section"]) for r in c["refs"]}))
        lines.append("| `%s` | %s | %s | %s |" % (c["id"], c["level"], cell(c["title"]), cell(refs)))
    lines += ["", "## Index by clause", "",
              "Every RFC section, spec operation and notes heading the catalogue enforces, with the cases that exercise it."]
    by_clause = collections.defaultdict(set)
    for _, _, c in cases:
        for r in c["refs"]:
            by_clause[(r["doc"], r["section"])].add(c["id"])
    for doc in DOCS:
        keys = sorted((k for k in by_clause if k[0] == doc), key=lambda k: section_key(k[1]))
        if keys:
            lines += ["", "### %s" % doc, "", "| section | cases |", "|---|---|"]
            for k in keys:
                lines.append("| %s | %s |" % (cell(k[1]), ", ".join("`%s`" % i for i in sorted(by_clause[k]))))
    return "\n".join(lines)


def replace(text, name, body):
    pattern = re.compile(r"(<!-- %s:start[^>]*-->\n).*?(\n<!-- %s:end -->)" % (name, name), re.S)
    if not pattern.search(text):
        sys.exit("README.md lacks the <!-- %s:start --> ... <!-- %s:end --> markers" % (name, name))
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def main():
    cases = load()
    with open(README, encoding="utf-8") as fh:
        old = fh.read()
    new = replace(replace(old, "counts", counts(cases)), "index", index(cases))
    if "--check" in sys.argv[1:]:
        if new != old:
            print("cases/README.md is stale: run python3 cases/index.py")
            sys.exit(1)
        return
    with open(README, "w", encoding="utf-8") as fh:
        fh.write(new)
    print("indexed %d cases" % len(cases))


if __name__ == "__main__":
    main()
