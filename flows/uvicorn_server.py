"""The temporary Prefect API server's process: Prefect's app under uvicorn, built without the cyclic garbage collector.

`python -m flows.uvicorn_server --port N` does what `python -m uvicorn --factory
prefect.server.api.server:create_app --host 127.0.0.1 --port N --log-level error --lifespan on` does, except that the
app (Prefect's server, SQLAlchemy's models, FastAPI's routes: hundreds of thousands of objects that live as long as
the server) is imported and built with the collector off and then frozen (`gc.freeze`), as a run does with its own
imports (`flows.runtime.long_lived_imports`). The collector walked that heap five times while it was being built:
about a quarter of the server's start-up CPU. Settings come from the environment (`flows.runtime` sets them).
Standard library, uvicorn and Prefect only: nothing of the pipeline is imported here.
"""

from __future__ import annotations

import argparse
import gc
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    gc.disable()
    import uvicorn
    from prefect.server.api.server import create_app

    app = create_app()
    gc.freeze()
    gc.enable()
    uvicorn.run(app, host=args.host, port=args.port, log_level="error", lifespan="on")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
