#!/usr/bin/env python3
"""Tests for check_layering.py: fake src/ trees with and without forbidden includes.

Run directly (CTest does): python3 tools/check_layering_test.py
"""

import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_layering  # noqa: E402

CHECKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check_layering.py")

# A small tree that obeys every rule, including the narrow ones.
CLEAN_TREE = {
    "base/status.h": "#pragma once\n#include <string>\n#include \"absl/status/status.h\"\n",
    "tensor/tensor.h": "#include \"base/status.h\"\n",
    "backend/backend.h": "#include \"tensor/tensor.h\"\n",
    "backend/cpu/kernels.cc": "#include \"backend/backend.h\"\n#include <immintrin.h>\n",
    "backend/cuda/norm.cu": "#include <cuda_runtime.h>\n#include \"norm.cuh\"\n"
                            "#include \"backend/backend.h\"\n",
    "backend/cuda/norm.cuh": "#include <cuda_bf16.h>\n",
    "loader/safetensors.cc": "#include \"tensor/tensor.h\"\n#include \"nlohmann/json.hpp\"\n",
    "kvcache/block_pool.h": "#include \"base/status.h\"\n",
    "models/llama/model.cc": "#include \"backend/backend.h\"\n#include \"loader/safetensors.h\"\n"
                             "#include \"models/llama/config.h\"\n",
    "engine/engine_client.h": "#include \"base/status.h\"\n",
    "engine/engine.cc": "#include \"models/llama/model.h\"\n#include \"kvcache/block_pool.h\"\n",
    "api/server.cc": "#include \"engine/engine_client.h\"\n#include \"cache/exact.h\"\n",
    "cli/main.cc": "#include \"backend/cuda/norm.cuh\"\n#include \"api/server.h\"\n",
    "sampling/sampler_test.cc": "#include \"gtest/gtest.h\"\n#include \"sampling/sampler.h\"\n",
}


class CheckLayeringTest(unittest.TestCase):

    def make_tree(self, files):
        root = tempfile.mkdtemp(prefix="layering_")
        self.addCleanup(shutil.rmtree, root, ignore_errors=True)
        src = os.path.join(root, "src")
        os.makedirs(src)
        for rel, text in files.items():
            path = os.path.join(src, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return src

    def errors_for(self, files):
        _, errors = check_layering.check_tree(self.make_tree(files))
        return errors

    def with_file(self, rel, text):
        files = dict(CLEAN_TREE)
        files[rel] = text
        return self.errors_for(files)

    def test_clean_tree_passes(self):
        src = self.make_tree(CLEAN_TREE)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.assertEqual(check_layering.main(["check_layering.py", src]), 0)
        self.assertIn("OK", out.getvalue())

    def test_forbidden_include_fails_with_file_line_and_rule(self):
        src = self.make_tree(dict(CLEAN_TREE, **{
            "kvcache/block_pool.cc": "#include <vector>\n\n#include \"backend/backend.h\"\n"}))
        result = subprocess.run([sys.executable, CHECKER, src], capture_output=True, text=True)
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn("src/kvcache/block_pool.cc:3:", result.stdout)
        self.assertIn("kvcache may depend on base", result.stdout)

    def test_lower_layer_may_not_include_upper_layer(self):
        errors = self.with_file("base/log.cc", "#include \"tensor/tensor.h\"\n")
        self.assertEqual(len(errors), 1, errors)
        self.assertIn("base/log.cc:1:", errors[0])

    def test_cuda_header_outside_backend_cuda_fails(self):
        for header in ("<cuda_runtime.h>", "<cublasLt.h>", "<cuda_bf16.h>", "\"cuda_fp16.h\"",
                       "<cub/cub.cuh>"):
            errors = self.with_file("backend/cpu/simd.h", "#include %s\n" % header)
            self.assertEqual(len(errors), 1, (header, errors))
            self.assertIn("CUDA header", errors[0])
        errors = self.with_file("models/llama/model.cc", "#include <cuda_runtime.h>\n")
        self.assertEqual(len(errors), 1, errors)

    def test_models_see_backend_interface_only(self):
        self.assertEqual(self.with_file("models/x.cc", "#include \"backend/backend.h\"\n"), [])
        for header in ("backend/cpu/simd.h", "backend/cuda/norm.cuh"):
            errors = self.with_file("models/x.cc", "#include \"%s\"\n" % header)
            self.assertEqual(len(errors), 1, errors)
            self.assertIn("only through", errors[0])

    def test_tests_may_wire_in_the_cpu_backends_only(self):
        cpu = "#include \"backend/cpu/cpu_backend.h\"\n"
        self.assertEqual(self.with_file("engine/generator_test.cc", cpu), [])
        self.assertEqual(len(self.with_file("engine/generator.cc", cpu)), 1)
        cuda = "#include \"backend/cuda/device.h\"\n"
        self.assertEqual(len(self.with_file("engine/generator_test.cc", cuda)), 1)

    def test_front_reaches_engine_through_client_only(self):
        for layer in ("api", "router", "cache", "workflow"):
            ok = self.with_file(layer + "/x.cc", "#include \"engine/engine_client.h\"\n")
            self.assertEqual(ok, [], layer)
            bad = self.with_file(layer + "/x.cc", "#include \"engine/engine.h\"\n")
            self.assertEqual(len(bad), 1, (layer, bad))
        models = self.with_file("models/x.cc", "#include \"engine/engine_client.h\"\n")
        self.assertEqual(len(models), 1, models)

    def test_same_layer_and_relative_includes_are_fine(self):
        self.assertEqual(self.with_file("backend/cuda/gemm.cu",
                                        "#include \"norm.cuh\"\n#include \"../cpu/kernels.h\"\n"),
                         [])
        # A relative path still counts for the layer it lands in.
        errors = self.with_file("kvcache/x.cc", "#include \"../backend/backend.h\"\n")
        self.assertEqual(len(errors), 1, errors)

    def test_scheduler_sees_kvcache_but_no_device(self):
        ok = self.with_file("scheduler/scheduler.h", "#include \"kvcache/kv_cache_manager.h\"\n"
                                                     "#include \"base/check.h\"\n")
        self.assertEqual(ok, [])
        for header in ("backend/backend.h", "tensor/tensor.h", "models/llama/model.h"):
            errors = self.with_file("scheduler/x.cc", "#include \"%s\"\n" % header)
            self.assertEqual(len(errors), 1, (header, errors))
            self.assertIn("scheduler may depend on base, kvcache", errors[0])
        # The dependency is one way: the KV cache knows nothing of scheduling.
        errors = self.with_file("kvcache/x.cc", "#include \"scheduler/scheduler.h\"\n")
        self.assertEqual(len(errors), 1, errors)

    def test_third_party_quoted_includes_are_ignored(self):
        self.assertEqual(self.with_file("base/x.cc", "#include \"absl/strings/str_cat.h\"\n"
                                                     "#include \"gmock/gmock.h\"\n"), [])

    def test_unknown_top_level_folder_fails(self):
        errors = self.with_file("gadgets/widget.cc", "#include \"base/status.h\"\n")
        self.assertTrue(any("unknown top-level folder 'gadgets'" in e for e in errors), errors)

    def test_cli_may_include_everything(self):
        self.assertEqual(self.with_file("cli/serve.cc", "#include \"engine/engine.h\"\n"
                                                        "#include \"backend/cpu/simd.h\"\n"), [])

    def test_every_rule_names_known_layers(self):
        for layer, rule in check_layering.RULES.items():
            if rule == check_layering.EVERYTHING:
                continue
            for dep in rule:
                self.assertIn(dep, check_layering.RULES, "%s -> %s" % (layer, dep))
                self.assertNotEqual(dep, layer)


if __name__ == "__main__":
    unittest.main()
