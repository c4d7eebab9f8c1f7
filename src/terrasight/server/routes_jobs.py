"""Routes for jobs: create (sample pair, files under ``--data``, uploads), list, status,
progress events, cancel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from terrasight.errors import InvalidOptionError, UnsafePathError, UploadRejectedError
from terrasight.server.context import AppContext
from terrasight.server.job_kinds import check_kind, default_method
from terrasight.server.jobs import FINAL_STATES, Job
from terrasight.server.paths import (
    check_raster,
    list_rasters,
    remove_quietly,
    resolve_under,
    save_upload,
    upload_names,
)

router = APIRouter(prefix="/api", tags=["jobs"])
EVENT_POLL_S = 0.25
MAX_IMAGES = 50
"""Most images one series job takes."""
Kind = Literal["change", "series", "image"]
MULTIPART_SLACK = 64 * 1024
"""Bytes a multipart body may carry beyond its two files (boundaries, form fields)."""


def context(request: Request) -> AppContext:
    """The app's state (a FastAPI dependency)."""
    return request.app.state.context


Context = Annotated[AppContext, Depends(context)]


class JobRequest(BaseModel):
    """A job from the sample pair (``sample``) or from files under the data folder: two
    (``before``, ``after``), or ``images`` for a series of dates (three or more) or one image
    to describe (``kind``)."""

    kind: Kind = "change"
    sample: bool = False
    before: str | None = Field(default=None, max_length=512, examples=["site/2019.tif"])
    after: str | None = Field(default=None, max_length=512, examples=["site/2024.tif"])
    images: list[Annotated[str, Field(max_length=512)]] | None = Field(
        default=None, max_length=MAX_IMAGES, examples=[["site/2019.tif", "site/2021.tif"]]
    )
    method: str | None = Field(
        default=None,
        max_length=64,
        examples=["auto", "cva", "irmad", "sar"],
        description="The change method; left out, the library's default (GET /api/data names it).",
    )
    classes: bool | None = Field(
        default=None,
        description="Land cover before and after of each change (RGB images): left out, "
        "within a budget of about the change job's own time (busy scenes get classes for "
        "part of the windows, and the result's warnings say so); true: every window, "
        "whatever it costs; false: none.",
    )


def job_view(ctx: AppContext, job: Job) -> dict[str, Any]:
    """The job as the API shows it: its fields, its place in the queue while it waits
    (``queue_position``, 1 starts next) and ``state_text`` (e.g. ``queued, position 2``)."""
    out = job.to_dict()
    position = ctx.runner.position(job.id) if job.state == "queued" else None
    out["queue_position"] = position
    out["state_text"] = f"queued, position {position}" if position else job.state
    return out


@router.get("/jobs")
def list_jobs(ctx: Context) -> list[dict[str, Any]]:
    """Every job, newest first."""
    return [job_view(ctx, job) for job in ctx.store.all()]


@router.post("/jobs", status_code=201)
def create_job(body: JobRequest, ctx: Context) -> dict[str, Any]:
    """Start a job on the sample pair or on rasters under the server's data folder."""
    method = body.method or default_method(body.kind)
    _check_method(method)
    if body.kind != "change":
        return _images_job(ctx, body.kind, method, body.images or [], body.sample)
    if body.sample:
        before, after = ctx.sample_pair()
        source = "sample"
    else:
        if not body.before or not body.after:
            raise InvalidOptionError(
                "give 'before' and 'after' (files under the data folder), or 'sample': true."
            )
        if ctx.config.data is None:
            raise UnsafePathError(
                "this server has no data folder: start it with --data DIR, or upload the images."
            )
        before = resolve_under(ctx.config.data, body.before)
        after = resolve_under(ctx.config.data, body.after)
        check_raster(before, "before")
        check_raster(after, "after")
        source = "data"
    job = ctx.store.create(str(before), str(after), method, source, classes=body.classes)
    ctx.runner.submit(job.id)
    return job_view(ctx, job)


def _images_job(ctx: AppContext, kind: str, method: str, names: list[str], sample: bool) -> Any:
    """A series or one-image job on files under the data folder."""
    check_kind(kind, len(names))
    if sample or (kind == "image" and len(names) != 1):
        raise InvalidOptionError(
            f"a{'n' if kind == 'image' else ''} {kind} job takes 'images' under the data folder "
            f"({'exactly one' if kind == 'image' else 'three or more'}); the sample is a pair."
        )
    if ctx.config.data is None:
        raise UnsafePathError(
            "this server has no data folder: start it with --data DIR, or upload the images."
        )
    paths = [resolve_under(ctx.config.data, name) for name in names]
    for i, path in enumerate(paths):
        check_raster(path, f"image {i + 1}")
    job = ctx.store.create(
        str(paths[0]), str(paths[-1]), method, "data", kind=kind, images=tuple(map(str, paths))
    )
    ctx.runner.submit(job.id)
    return job_view(ctx, job)


@router.post("/jobs/upload-images", status_code=201)
def upload_images_job(
    request: Request,
    ctx: Context,
    images: Annotated[list[UploadFile], File(description="One image, or one per date.")],
    kind: Annotated[Kind, Form()] = "series",
    method: Annotated[str | None, Form(max_length=64)] = None,
) -> dict[str, Any]:
    """Start a series job (three or more uploaded images, one per date: dates from the file
    names or tags) or a one-image job (``kind=image``, one image described)."""
    limit = ctx.config.max_upload_bytes
    length = int(request.headers.get("content-length") or 0)
    if length > MAX_IMAGES * limit + MULTIPART_SLACK or len(images) > MAX_IMAGES:
        raise UploadRejectedError(
            f"the upload is larger than {MAX_IMAGES} images of {ctx.config.max_upload_mb} MB."
        )
    if kind == "change":
        raise InvalidOptionError("a change job takes two images: POST /api/jobs/upload.")
    check_kind(kind, len(images))
    if kind == "image" and len(images) != 1:
        raise InvalidOptionError(f"a one-image job takes one image, not {len(images)}.")
    method = method or default_method(kind)
    _check_method(method)
    labels = [f"image{i + 1}" for i in range(len(images))]
    job_id, paths = _save_uploads(ctx, images, labels)
    job = ctx.store.create(
        str(paths[0]), str(paths[-1]), method, "upload", job_id, kind, tuple(map(str, paths))
    )
    ctx.runner.submit(job.id)
    return job_view(ctx, job)


@router.post("/jobs/upload", status_code=201)
def upload_job(
    request: Request,
    ctx: Context,
    before: Annotated[UploadFile, File(description="The earlier image.")],
    after: Annotated[UploadFile, File(description="The later image.")],
    method: Annotated[str | None, Form(max_length=64)] = None,
    classes: Annotated[bool | None, Form()] = None,
) -> dict[str, Any]:
    """Start a job on two uploaded images (each at most the server's upload limit); they keep
    their file names, made safe (a clash gets a suffix). No method: the library's default;
    ``classes`` as in ``POST /api/jobs``."""
    limit = ctx.config.max_upload_bytes
    length = int(request.headers.get("content-length") or 0)
    if length > 2 * limit + MULTIPART_SLACK:
        raise UploadRejectedError(
            f"the upload is larger than the limit of {ctx.config.max_upload_mb} MB per image."
        )
    method = method or default_method()
    _check_method(method)
    job_id, paths = _save_uploads(ctx, [before, after], ["before", "after"])
    job = ctx.store.create(
        str(paths[0]), str(paths[1]), method, "upload", job_id=job_id, classes=classes
    )
    ctx.runner.submit(job.id)
    return job_view(ctx, job)


def _save_uploads(
    ctx: AppContext, uploads: list[UploadFile], labels: list[str]
) -> tuple[str, list[Path]]:
    """A new job id and its uploaded images saved under their safe names, each checked to be
    a raster; the job's folder is removed when any of them fails."""
    names = upload_names([u.filename for u in uploads], labels)
    job_id = ctx.store.new_id()
    folder = ctx.store.input_dir(job_id)
    try:
        paths = []
        for label, upload, name in zip(labels, uploads, names, strict=True):
            path = folder / name
            save_upload(upload.file, path, ctx.config.max_upload_bytes)
            check_raster(path, label)
            paths.append(path)
    except BaseException:
        remove_quietly(ctx.store.folder(job_id))
        raise
    return job_id, paths


@router.get("/jobs/{job_id}")
def job_status(job_id: str, ctx: Context) -> dict[str, Any]:
    """A job's state and progress (and its place in the queue while it waits)."""
    return job_view(ctx, ctx.store.get(job_id))


@router.post("/jobs/{job_id}/cancel")
def cancel_job(job_id: str, ctx: Context) -> dict[str, Any]:
    """Ask a job to stop; finished jobs are left as they are."""
    ctx.runner.cancel(job_id)
    return job_view(ctx, ctx.store.get(job_id))


@router.get("/jobs/{job_id}/events", response_class=StreamingResponse)
async def job_events(job_id: str, request: Request, ctx: Context) -> StreamingResponse:
    """Server-sent events: the job's state each time it changes, until it has finished."""
    ctx.store.get(job_id)  # an unknown id is a 404, not an empty stream

    async def stream() -> AsyncIterator[str]:
        last = None
        while not await request.is_disconnected():
            job = job_view(ctx, ctx.store.get(job_id))
            if job != last:
                yield f"event: job\ndata: {json.dumps(job)}\n\n"
                last = job
            if job["state"] in FINAL_STATES:
                return
            await asyncio.sleep(EVENT_POLL_S)

    headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


@router.get("/data")
def data_files(ctx: Context) -> dict[str, Any]:
    """The rasters under the data folder that jobs may be made from, the change methods, and
    whether there is an archive index to search (``archive``)."""
    from terrasight.tasks.change.methods.registry import list_methods

    files = list_rasters(ctx.config.data) if ctx.config.data else []
    # auto (the method for the images' kind) is offered first: it is the package's default
    return {
        "files": files,
        "methods": ["auto", *list_methods()],
        "default_method": default_method(),  # the same as a job that names none gets
        "default_series_method": default_method("series"),
        "sample": True,
        "archive": ctx.config.db is not None,
    }


def _check_method(name: str) -> None:
    from terrasight.tasks.change.methods.registry import get_method

    if name != "auto":  # auto picks an installed method once the images are open
        get_method(name)  # UnknownMethodError (404) before anything is written
