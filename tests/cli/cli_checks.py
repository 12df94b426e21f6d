"""Helpers for the command-line test drivers: run a command, record checks, read key=value
figures, print the summary. New drivers import this instead of copying the helpers."""
import subprocess


class Checks:
    def __init__(self):
        self.failures = []
        self.count = 0

    def check(self, condition, what, result=None):
        self.count += 1
        if condition:
            return
        detail = ""
        if result is not None:
            detail = f"\n  exit={result.returncode}\n  stdout={result.stdout[-2000:]}\n  stderr={result.stderr[-2000:]}"
        self.failures.append(what + detail)

    def summary(self):
        """Prints every failure and the totals; returns the exit code."""
        for failure in self.failures:
            print("FAIL:", failure)
        print(f"{self.count - len(self.failures)} passed, {len(self.failures)} failed")
        return 1 if self.failures else 0


def run(args, cwd, timeout=300):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def figures(stdout):
    return dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line)
