#!/usr/bin/env python3
"""Checks the layering rules of DESIGN.md section 2 on the #include lines under src/.

Usage: check_layering.py SRC_DIR

Every .h/.cc/.cu/.cuh file belongs to the layer named by its top-level folder of SRC_DIR and may
include project headers only from its own layer and from the layers that RULES allows for it
(some only through named headers). CUDA headers may be included only under backend/cuda/.
A top-level folder missing from RULES is itself an error, so the table is kept up to date.
Test files (*_test.cc) may also include the CPU backends, which they wire in as cli/ does.
Exits 0 when clean, 1 listing every violation as file:line, 2 on bad usage.
Standard library only, so CTest can run it anywhere.
"""

import os
import re
import sys

# A rule's value: ALL (any header of that layer) or a regex the whole include path must match.
ALL = None
BACKEND_INTERFACE = r"backend/[^/]+"  # backend/backend.h level: not backend/cpu, backend/cuda
ENGINE_CLIENT = r"engine/(engine_client|embedding_client)\.h"  # DESIGN.md rule 4: the client interfaces only
EVERYTHING = "everything"

_FRONT = {"base": ALL, "tensor": ALL, "tokenizer": ALL, "metrics": ALL, "engine": ENGINE_CLIENT}

# layer -> {layer it may include: ALL or regex}. The own layer is always allowed.
RULES = {
    "base": {},
    "tensor": {"base": ALL},
    "backend": {"base": ALL, "tensor": ALL},
    "loader": {"base": ALL, "tensor": ALL},
    "tokenizer": {"base": ALL},
    "media": {"base": ALL, "tensor": ALL},
    # DESIGN.md rule 2: device-free, testable on any laptop.
    "kvcache": {"base": ALL},
    "scheduler": {"base": ALL, "kvcache": ALL},
    "sampling": {"base": ALL},
    # DESIGN.md rule 3: models see the Backend interface only and never engine/ or api/.
    "models": {"base": ALL, "tensor": ALL, "backend": BACKEND_INTERFACE, "loader": ALL},
    "engine": {
        "base": ALL, "tensor": ALL, "backend": BACKEND_INTERFACE, "loader": ALL, "models": ALL,
        "kvcache": ALL, "scheduler": ALL, "sampling": ALL, "tokenizer": ALL, "metrics": ALL,
    },
    # The serving front follows the request path: api -> cache -> router -> workflow -> engine.
    "api": dict(_FRONT, cache=ALL, router=ALL, workflow=ALL),
    "cache": dict(_FRONT),
    "router": dict(_FRONT, workflow=ALL),
    "workflow": dict(_FRONT),
    # DESIGN.md rule 5: metrics is a sink that others feed with plain structs.
    "metrics": {"base": ALL},
    # The only place concrete types are wired together.
    "cli": EVERYTHING,
}

# DESIGN.md rule 1: only backend/cuda/ includes CUDA headers.
CUDA_DIR = "backend/cuda/"
CUDA_HEADER = re.compile(
    r"^(?:(?:cuda|cublas|cufft|curand|cusparse|cusolver|cudnn|nvjpeg|nccl|nvrtc|nvml|cupti)"
    r"[A-Za-z0-9_]*\.h"
    r"|(?:cooperative_groups|mma|driver_types|vector_types|device_launch_parameters)\.h"
    r"|(?:cuda|cub|thrust|cutlass|cute|cooperative_groups|crt)/.*)$")

SOURCE_SUFFIXES = (".h", ".cc", ".cu", ".cuh")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def describe(layer):
    """The allowed dependencies of `layer`, for error messages."""
    rule = RULES[layer]
    if rule == EVERYTHING:
        return "everything"
    parts = []
    for dep, pattern in rule.items():
        parts.append(dep if pattern is ALL else "%s (only %s)" % (dep, pattern.replace("\\", "")))
    return ", ".join(parts) if parts else "nothing"


def included_path(src_dir, including_file, path):
    """The src-relative path of a quoted include, or None for a third-party header."""
    local = os.path.normpath(os.path.join(os.path.dirname(including_file), path))
    inside_src = os.path.commonpath([local, src_dir]) == src_dir
    first = path.split("/")[0]
    # Paths relative to the including file: "sibling.h", "./x.h", "../cpu/x.h", or any path
    # that exists there (the compiler looks beside the file first).
    if first in (".", "..") or "/" not in path or os.path.isfile(local):
        return os.path.relpath(local, src_dir).replace(os.sep, "/") if inside_src else None
    if first in RULES or os.path.isdir(os.path.join(src_dir, first)):
        return path
    return None  # e.g. "absl/status/status.h", "gtest/gtest.h", "nlohmann/json.hpp"


# Tests (*_test.cc) wire concrete backends into the code they exercise, like cli/ does for
# the binary; they may include the CPU backends on top of their layer's own rules.
TEST_EXTRA = re.compile(r"backend/cpu/(?:reference/)?[^/]+\.h")


def check_include(layer, target, is_test=False):
    """An error message, or None when `layer` may include src-relative `target`."""
    target_layer = target.split("/")[0]
    if target_layer == layer or RULES[layer] == EVERYTHING:
        return None
    if is_test and TEST_EXTRA.fullmatch(target):
        return None
    if target_layer not in RULES:
        return 'includes "%s" from unknown layer %s' % (target, target_layer)
    rule = RULES[layer]
    if target_layer not in rule:
        return '%s may not include "%s": %s may depend on %s' % (
            layer, target, layer, describe(layer))
    pattern = rule[target_layer]
    if pattern is not ALL and not re.fullmatch(pattern, target):
        return '%s may include %s only through %s, not "%s"' % (
            layer, target_layer, pattern.replace("\\", ""), target)
    return None


def check_file(src_dir, path, layer):
    """Yields (line number, message) for every violation in one source file."""
    rel_file = os.path.relpath(path, src_dir).replace(os.sep, "/")
    with open(path, encoding="utf-8", errors="replace") as f:
        for line_number, line in enumerate(f, start=1):
            match = INCLUDE.match(line)
            if not match:
                continue
            delimiter, header = match.groups()
            if CUDA_HEADER.match(header) and not rel_file.startswith(CUDA_DIR):
                yield line_number, ('CUDA header <%s> outside %s (DESIGN.md section 2, rule 1)'
                                    % (header, CUDA_DIR))
                continue
            if delimiter != '"':
                continue
            target = included_path(src_dir, path, header)
            if target is None:
                continue
            message = check_include(layer, target, rel_file.endswith("_test.cc"))
            if message:
                yield line_number, message


def check_tree(src_dir):
    """Returns (number of files checked, list of 'file:line: message' strings)."""
    src_dir = os.path.abspath(src_dir)
    display_root = os.path.dirname(src_dir)
    errors = []
    num_files = 0
    for entry in sorted(os.listdir(src_dir)):
        full = os.path.join(src_dir, entry)
        if os.path.isdir(full) and entry not in RULES:
            errors.append("%s: unknown top-level folder %r: add it to RULES in %s" % (
                os.path.relpath(full, display_root), entry, os.path.basename(__file__)))
        elif os.path.isfile(full) and entry.endswith(SOURCE_SUFFIXES):
            errors.append("%s: source file outside any layer folder" %
                          os.path.relpath(full, display_root))
    for layer in sorted(RULES):
        layer_dir = os.path.join(src_dir, layer)
        for root, dirs, files in os.walk(layer_dir):
            dirs.sort()
            for name in sorted(files):
                if not name.endswith(SOURCE_SUFFIXES):
                    continue
                path = os.path.join(root, name)
                num_files += 1
                for line_number, message in check_file(src_dir, path, layer):
                    errors.append("%s:%d: %s" % (os.path.relpath(path, display_root),
                                                 line_number, message))
    return num_files, errors


def main(argv):
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print("usage: %s SRC_DIR" % os.path.basename(argv[0]), file=sys.stderr)
        return 2
    num_files, errors = check_tree(argv[1])
    for error in errors:
        print(error)
    if errors:
        print("layering: %d violation(s) in %d files (rules: DESIGN.md section 2)" % (
            len(errors), num_files))
        return 1
    print("layering: OK, %d files checked" % num_files)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
