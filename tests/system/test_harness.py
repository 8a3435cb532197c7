#!/usr/bin/env python3
"""Self-test of the harness (cmemnet.py): scenarios report every outcome.

Child scripts use cmemnet's scenarios the way the system tests do; their
output and exit status are checked: a failed check or an unexpected error
ends only its own scenario, the later ones still run, the summary counts
them ("N scenarios, M failed") and the exit status is 1; a scenario that
needs a failed one says so; a failure outside any scenario still prints
what ran; a skip (exit 77) passes through; all pass: exit 0 and PASS.
Needs no root and no network.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from cmemnet import check, finish, scenario  # noqa: E402

PRELUDE = "import sys; sys.path.insert(0, %r)\nfrom cmemnet import *\n" % HERE


def child(body):
    r = subprocess.run([sys.executable, "-c", PRELUDE + body], capture_output=True, text=True,
                       timeout=60)
    return r.returncode, r.stdout + r.stderr


def expect(body, rc, *texts):
    got, out = child(body)
    check(got == rc, "exit %d, wanted %d:\n%s" % (got, rc, out))
    for t in texts:
        check(t in out, "%r not in the output:\n%s" % (t, out))
    return out


@scenario
def failures_do_not_hide_later_scenarios():
    out = expect('''
with scenario("first"):
    check(True, "never")
with scenario("second"):
    check(1 == 2, "one is not two")
    print("not reached")
with scenario("third"):
    {}["missing"]
with scenario("fourth"):
    print("fourth ran")
finish("child")
''', 1, "FAIL: one is not two", "-- FAILED second", "KeyError", "-- FAILED third",
        "fourth ran", "-- ok fourth", "child: 4 scenarios, 2 failed")
    check("not reached" not in out and "PASS child" not in out, "a failed scenario went on:\n%s" % out)


@scenario
def need_names_the_failed_scenario():
    expect('''
value = None
with scenario("make"):
    check(False, "could not make it")
    value = 1
with scenario("use"):
    need(value, "make")
finish("child")
''', 1, "not run: it needs make, which failed", "child: 2 scenarios, 2 failed")


@scenario
def decorated_function_is_a_scenario():
    expect('''
@scenario
def some_check(x):
    check(x > 1, "x is %d" % x)
    return x
print("results", some_check(2), some_check(0))
finish("child")
''', 1, "results 2 None", "-- ok some-check", "-- FAILED some-check", "child: 2 scenarios, 1 failed")


@scenario
def failure_outside_scenarios_still_reports():
    expect('''
with scenario("ran"):
    pass
check(False, "set-up broke")
with scenario("never"):
    pass
''', 1, "FAIL: set-up broke", "1 scenarios, 0 failed (stopped early by a failure outside the scenarios)")


@scenario
def skip_passes_through():
    expect('''
with scenario("skipping"):
    sys.exit(77)
finish("child")
''', 77)


@scenario
def all_pass():
    expect('''
with scenario("a"):
    pass
with scenario("b"):
    pass
finish("child")
''', 0, "child: 2 scenarios, 0 failed", "PASS child")


def main():
    failures_do_not_hide_later_scenarios()
    need_names_the_failed_scenario()
    decorated_function_is_a_scenario()
    failure_outside_scenarios_still_reports()
    skip_passes_through()
    all_pass()
    finish()


if __name__ == "__main__":
    main()
