"""The container's server: SageMaker's contract on port 8080, around ``code/inference.py``.

SageMaker starts a hosting container as ``docker run <image> serve``, then sends
``GET /ping`` until it answers 200 (within the startup health-check timeout) and
``POST /invocations`` per request. ``/ping`` answers 503 until the model is loaded, so an
instance only gets traffic once it can serve it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool

sys.path.insert(0, str(Path(__file__).resolve().parent / "code"))
import inference

JSON = "application/json"
#: Where SageMaker puts the model artifacts (ModelDataUrl / ModelDataSource).
MODEL_DIR = os.environ.get("SM_MODEL_DIR", "/opt/ml/model")
#: Requests generating at once per instance; more wait (one model, bounded memory).
CONCURRENCY = int(os.environ.get("MAX_CONCURRENT_REQUESTS", "1"))


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.model = await run_in_threadpool(inference.model_fn, MODEL_DIR)
    app.state.slots = asyncio.Semaphore(CONCURRENCY)
    yield
    app.state.model = None


app = FastAPI(lifespan=lifespan)
app.state.model = None


def _error(status: int, message: str) -> Response:
    return Response(json.dumps({"error": message}), status_code=status,
                    media_type=JSON)


@app.get("/ping")
def ping() -> Response:
    return Response(status_code=200 if app.state.model is not None else 503)


@app.post("/invocations")
async def invocations(request: Request) -> Response:
    if app.state.model is None:
        return _error(503, "the model is not loaded yet")
    content_type = request.headers.get("content-type", JSON)
    accept = request.headers.get("accept", JSON)
    try:
        data = inference.input_fn(await request.body(), content_type)
    except inference.UnsupportedMediaType as exc:
        return _error(415, str(exc))
    except ValueError as exc:
        return _error(400, str(exc))
    async with app.state.slots:
        prediction = await run_in_threadpool(inference.predict_fn, data, app.state.model)
    try:
        body = inference.output_fn(prediction, accept)
    except inference.UnsupportedMediaType as exc:
        return _error(406, str(exc))
    return Response(body, media_type=JSON)


def main(argv: list[str]) -> None:
    if argv and argv[0] != "serve":
        sys.exit(f"this image only serves (SageMaker runs it with 'serve'), got {argv[0]!r}")
    uvicorn.run(app, host="0.0.0.0", port=int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080")))


if __name__ == "__main__":
    main(sys.argv[1:])
