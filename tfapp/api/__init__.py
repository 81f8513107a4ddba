"""The JSON API under ``/api/``: transfers (create, follow, download, share, delete, list) and presets.

It validates exactly as the upload page does, by binding ``TransferForm``; a
transfer's state is ``tfapp.progress.progress()``, the same as ``status.json``.
Every transfer it touches must be the caller's: another's is a 404, as if absent.
"""
from datetime import datetime
from typing import List, Optional
from uuid import UUID

from django.core.exceptions import SuspiciousOperation
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import ModelSchema, NinjaAPI, Schema, Status
from pydantic import ConfigDict, Field

from .. import conf
from ..forms import TransferForm
from ..models import StylePreset, Transfer
from ..ownership import client_id
from ..progress import progress, watcher
from ..results import result_file
from ..tasks import submit
from . import errors
from .auth import RateLimit, SessionAuth, TokenAuth
from .formschema import multipart_body


class RestyleAPI(NinjaAPI):
    def get_openapi_schema(self, *args, **kwargs):
        """The schema, with the create endpoint's multipart body read from the form when asked for."""
        schema = super().get_openapi_schema(*args, **kwargs)
        create = schema["paths"][reverse("api:transfers")]["post"]
        create["requestBody"] = multipart_body(TransferForm())
        return schema


api = RestyleAPI(title="Restyle API", version="1", urls_namespace="api", auth=[TokenAuth(), SessionAuth()],
                 throttle=RateLimit(),
                 description="Repaint photos in the style of paintings. Authenticate with a personal token "
                             "(`Authorization: Bearer <token>`, made on the account page) or the browser's session.")
errors.install(api)


class ErrorOut(Schema):
    code: str
    message: str
    field: Optional[str] = None


class TransferOut(Schema):
    """A transfer: the fields of ``status.json`` (and any it gains) plus its id, links and sharing."""

    model_config = ConfigDict(extra="allow")

    id: UUID
    status: str
    status_display: str
    method: str
    queue_position: Optional[int] = None
    attempts: int
    error: str
    result_url: Optional[str] = Field(None, description="The result: a PNG, or a clip's H.264 MP4.")
    poster_url: Optional[str] = Field(None, description="A clip's still (a finished frame); null for a photo.")
    frames: Optional[int] = Field(None, description="A clip's frames; null for a photo.")
    frames_done: Optional[int] = Field(None, description="A clip's frames finished so far; null for a photo.")
    progress: Optional[float] = Field(None, description="Share of the work done, 0-1; null while unknown.")
    steps: Optional[int] = Field(None, description="Iterations a long method has reported so far.")
    preview_url: Optional[str] = Field(None, description="The latest intermediate image of a long method.")
    eta_seconds: Optional[int] = Field(None, description="Seconds still needed; null when unknown.")
    token: str
    shared: bool
    created_at: datetime
    page_url: str
    download_url: Optional[str] = None


class TransferPage(Schema):
    count: int
    page: int
    pages: int
    items: List[TransferOut]


PAGE_SIZE = 20


class SharingIn(Schema):
    shared: bool


class PresetOut(ModelSchema):
    class Meta:
        model = StylePreset
        fields = ["id", "name", "artist", "year", "licence"]


ERRORS = {400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 429: ErrorOut}


def _described(request, transfer):
    """The transfer as the API gives it: its progress, with every URL absolute, as clients outside the site need."""
    state = progress(transfer)
    download = request.build_absolute_uri(reverse("api:transfer-result", args=[transfer.public_id]))
    return {**state, "id": transfer.public_id, "shared": transfer.shared, "created_at": transfer.created_at,
            "result_url": _absolute(request, state["result_url"]),
            "preview_url": _absolute(request, state["preview_url"]),
            "poster_url": _absolute(request, state["poster_url"]),
            "page_url": request.build_absolute_uri(transfer.get_absolute_url()),
            "download_url": download if transfer.result_image else None}


def _absolute(request, url):
    return request.build_absolute_uri(url) if url else None


def _mine(request, public_id):
    return get_object_or_404(Transfer.objects.owned_by(request.auth), public_id=public_id)


@api.get("/presets", response=List[PresetOut], summary="List the preset paintings", tags=["presets"])
def list_presets(request):
    return StylePreset.objects.offered()


@api.get("/transfers", response={200: TransferPage, **ERRORS}, summary="List my transfers, newest first",
         tags=["transfers"], url_name="transfers")
def list_transfers(request, page: int = 1):
    paginator = Paginator(Transfer.objects.owned_by(request.auth).recent(), PAGE_SIZE)
    if not 1 <= page <= paginator.num_pages:
        raise errors.ApiError(404, "no_such_page", f"There are {paginator.num_pages} pages.", "page")
    transfers = paginator.page(page)
    return {"count": paginator.count, "page": page, "pages": paginator.num_pages,
            "items": [_described(request, transfer) for transfer in transfers]}


@api.post("/transfers", response={201: TransferOut, 400: ErrorOut, 401: ErrorOut, 413: ErrorOut, 429: ErrorOut,
                                  503: ErrorOut},
          summary="Create a transfer", tags=["transfers"],
          description="Multipart form data with the same fields, limits and error codes as the upload page.")
def create_transfer(request):
    try:
        form = TransferForm(request.POST, request.FILES, client=client_id(request), ownership=request.auth)
        valid = form.is_valid()
    except (SuspiciousOperation, MultiPartParserError) as error:
        raise errors.ApiError(400, "bad_request", f"The request body could not be read: {error}") from error
    if not valid:
        return errors.form_error_response(api, request, form)
    return Status(201, _described(request, submit(form)))


@api.get("/transfers/{public_id}", response={200: TransferOut, **ERRORS}, summary="Get a transfer's status",
         tags=["transfers"],
         description="With `after=<token>` (the token of the state you have) the answer waits until the state "
                     "changes, up to the server's status wait (20 s by default).")
def get_transfer(request, public_id: UUID, after: Optional[str] = None):
    transfer = _mine(request, public_id)
    if after and after == progress(transfer)["token"] and conf.status_wait() > 0:
        watcher.wait_for_change(public_id, after, conf.status_wait())
        transfer = _mine(request, public_id)
    return _described(request, transfer)


# The 200 (a PNG, not JSON) is described in openapi_extra only: declared in both it would appear twice.
_BINARY = {"schema": {"type": "string", "format": "binary"}}


@api.get("/transfers/{public_id}/result", response={**ERRORS, 409: ErrorOut},
         summary="Download the result (PNG, or MP4 for a clip)", tags=["transfers"], url_name="transfer-result",
         openapi_extra={"responses": {"200": {"description": "The result image, or a clip's H.264 MP4.",
                                              "content": {"image/png": _BINARY, "video/mp4": _BINARY}}}})
def download_result(request, public_id: UUID):
    transfer = _mine(request, public_id)
    if not transfer.result_image:
        raise errors.ApiError(409, "not_finished", f"This transfer is {transfer.status}; it has no result yet.")
    return result_file(transfer)


@api.patch("/transfers/{public_id}", response={200: TransferOut, **ERRORS},
           summary="Share a transfer in the public gallery, or stop sharing it", tags=["transfers"])
def set_sharing(request, public_id: UUID, sharing: SharingIn):
    transfer = _mine(request, public_id)
    transfer.shared = sharing.shared
    transfer.save(update_fields=["shared"])
    return _described(request, transfer)


@api.delete("/transfers/{public_id}", response={204: None, **ERRORS},
            summary="Delete a transfer and all its files", tags=["transfers"])
def delete_transfer(request, public_id: UUID):
    _mine(request, public_id).delete()
    return HttpResponse(status=204)
