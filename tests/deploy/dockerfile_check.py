#!/usr/bin/env python3
"""A shape check of deploy/Dockerfile where no container engine is installed (ctest:
deploy_dockerfile). Not a build: it checks that every instruction is a Dockerfile instruction,
continuation lines end, every stage starts FROM a Debian 12 (bookworm) image, COPY --from names an
earlier stage, the build stage installs packages from tools/setup.sh --list, and the runtime
stage ships sluice-node and sluice-sim.

  tests/deploy/dockerfile_check.py DOCKERFILE

Exit codes: 0 passed, 1 failed, 2 usage error.
"""

import re
import sys

INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
                "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}


def instructions(text):
    """(line number, instruction, arguments) with continuations joined; comments dropped."""
    result, current, start = [], "", 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if not current:
            start = number
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        word, _, rest = current.partition(" ")
        result.append((start, word, rest.strip()))
        current = ""
    if current:
        result.append((start, "<unterminated>", current))
    return result


def main():
    if len(sys.argv) == 2 and sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    if len(sys.argv) != 2:
        print("usage: dockerfile_check.py DOCKERFILE", file=sys.stderr)
        return 2
    try:
        text = open(sys.argv[1]).read()
    except OSError as error:
        print(f"dockerfile_check: {error}", file=sys.stderr)
        return 2
    problems, stages = [], []
    parsed = instructions(text)
    for number, word, rest in parsed:
        if word.upper() not in INSTRUCTIONS:
            problems.append(f"line {number}: '{word}' is not a Dockerfile instruction")
        if word != word.upper():
            problems.append(f"line {number}: write instructions in upper case ({word})")
        if word == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest)
            if not match or not re.fullmatch(r"debian:bookworm(-slim)?", match.group(1)):
                problems.append(f"line {number}: FROM {rest}: want debian:bookworm[-slim] [AS name]")
            stages.append(match.group(2) if match else None)
        elif word == "COPY":
            source = re.search(r"--from=(\S+)", rest)
            if source and source.group(1) not in stages[:-1]:
                problems.append(f"line {number}: COPY --from={source.group(1)}: no earlier stage of that name")
        if not stages and word not in ("ARG", "FROM"):
            problems.append(f"line {number}: {word} before the first FROM")
    if len(stages) < 2:
        problems.append("want a multi-stage build (a build stage and a runtime stage)")
    if "tools/setup.sh --list" not in text:
        problems.append("the build stage does not take its packages from tools/setup.sh --list")
    if not re.search(r"--target[^\n]*sluice-node[^\n]*sluice-sim", text):
        problems.append("the build does not build sluice-node and sluice-sim")
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"ok: {len(parsed)} instructions, stages {stages}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
