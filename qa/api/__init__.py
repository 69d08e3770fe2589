"""The HTTP surface of `qa`: a litestar app over one `Pipeline`.

`create_app(pipeline)` builds the app (tests inject a pipeline wired with fakes);
`run(host, port)` is what `qa serve` calls. See docs/api.md for the endpoints.
"""

from __future__ import annotations

from qa.api.app import create_app
from qa.api.server import run

__all__ = ["create_app", "run"]
