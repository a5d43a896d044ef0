"""Runs the PyTorch reference scripts of this folder, one after another, in one Python process.

The tests start it once per JVM (org.hbp.ExternalTools): importing torch takes about 2 s, longer
than most scripts. Each request is one JSON line on stdin, {"script": PATH, "args": [...]}; each
reply one JSON line, {"status": N, "log": TEXT}, status 0 when the script ran to its end (or
exited with 0), and TEXT what it printed. Python-level output goes into TEXT; output written
below Python (C++ warnings) goes to stderr, which the tests keep for a failure's message.

Each script runs as if started alone, as `python3 PATH ARGS`: run as __main__ with its own folder
first on sys.path and stdin empty, and with the process state scripts change put back. After each
script the modules it imported from this folder, its own or a folder it put on sys.path are
dropped (this folder's helpers do their work when imported; generated code lies in a test's
folder); before each, sys.path, the warning filters, torch's default dtype, its thread count, its
grad mode and its random seed (the seed a fresh process starts with) are set as at the start.
"""
import contextlib
import importlib
import io
import json
import os
import runpy
import sys
import traceback
import warnings

# the replies go to a copy of stdout; what is written to stdout itself, from here on (importing torch included), goes
# to stderr, where it cannot be taken for a reply
REPLIES = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)

import numpy  # noqa: E402,F401  (imported once, as torch is)
import torch  # noqa: E402

HERE = os.path.dirname(os.path.realpath(__file__))
BASE_PATH = sys.path[1:]
BASE_MODULES = set(sys.modules)
BASE_FILTERS = list(warnings.filters)
SEED = torch.initial_seed()
DTYPE = torch.get_default_dtype()
THREADS = torch.get_num_threads()
INSTALLED = tuple(os.path.realpath(p) + os.sep for p in BASE_PATH if p and os.path.isdir(p) and os.path.realpath(p) != HERE)


def installed(module, ours):
    """Whether a module imported by a script stays: it is under the installed packages' folders, and not under
    this folder, the script's or a folder the script put on sys.path (which PYTHONPATH may hold a folder above)."""
    f = getattr(module, "__file__", None)
    if f is None:
        return True
    f = os.path.realpath(f)
    return f.startswith(INSTALLED) and not f.startswith(ours)


def forget_modules(ours):
    for name in [m for m in sys.modules if m not in BASE_MODULES]:
        if not installed(sys.modules[name], ours):
            del sys.modules[name]
    importlib.invalidate_caches()


def reset():
    sys.path[:] = BASE_PATH
    warnings.filters[:] = BASE_FILTERS
    torch.set_default_dtype(DTYPE)
    torch.set_num_threads(THREADS)
    torch.set_grad_enabled(True)
    torch.manual_seed(SEED)


def run(script, args):
    script_dir = os.path.dirname(os.path.realpath(script))
    reset()
    sys.argv = [script] + list(args)
    sys.path.insert(0, script_dir)
    log = io.StringIO()
    status = 0
    requests, sys.stdin = sys.stdin, open(os.devnull)  # a script reading stdin must not take the next requests
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as e:
            if isinstance(e.code, int):
                status = e.code
            elif e.code is not None:
                print(e.code, file=sys.stderr)
                status = 1
        except BaseException:  # noqa: B902  (the script's failure is the reply, not the worker's)
            traceback.print_exc()
            status = 1
    sys.stdin.close()
    sys.stdin = requests
    added = [os.path.realpath(p) for p in sys.path if p and p not in BASE_PATH]
    forget_modules(tuple(p + os.sep for p in {HERE, script_dir, *added}))
    return status, log.getvalue()


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        status, log = run(request["script"], request["args"])
        REPLIES.write(json.dumps({"status": status, "log": log}) + "\n")
        REPLIES.flush()


if __name__ == "__main__":
    main()
