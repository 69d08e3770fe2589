"""Run llama.cpp's own OpenAI-compatible HTTP server (the one xllamacpp ships) on a loopback port.

    python tests/support/llama_server.py MODEL.gguf [THREADS]

Prints one line, `listening http://127.0.0.1:PORT`, once the model is loaded, then
serves until it is killed. Tests start it as a separate process, so the openai
backend talks real HTTP to a real third-party server, not to code written here.
"""

from __future__ import annotations

import signal
import sys
import threading


def main() -> None:
    from qa.llm import llama_params, llama_server

    model, threads = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2
    params = llama_params(model, threads, context=2048)
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # any free port; the real one is printed below
    params.model_alias = {"qwen2.5-coder-1.5b"}
    server = llama_server(params)
    print(f"listening {_url(server.listening_address)}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()


def _url(address: object) -> str:
    text = str(address)
    return text if text.startswith("http") else f"http://{text}"


if __name__ == "__main__":
    main()
