import hashlib

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django.views.generic import ListView

from . import conf, engines
from .forms import TransferForm, methods_on_offer
from .models import StylePreset, Transfer
from .progress import progress, watcher
from .tasks import cancel as cancel_transfer
from .tasks import enqueue_transfer, rerun


def client_id(request):
    """A stable, non-reversible id of the client's address, for per-client queue limits."""
    return hashlib.sha256(request.META.get("REMOTE_ADDR", "").encode()).hexdigest()[:32]


def upload(request):
    """The home page: pick a photo and styles; the transfer is queued for a worker.

    ``?from=<public id>`` opens the form with an earlier transfer's inputs and parameters.
    """
    if request.method == "POST":
        form = TransferForm(request.POST, request.FILES, client=client_id(request))
        if form.is_valid():
            transfer = form.save()
            enqueue_transfer(transfer.pk, transfer.queue)
            return redirect(transfer)
        source = form.source
    else:
        source = _source_transfer(request.GET.get("from"))
        form = TransferForm(initial=TransferForm.initial_from(source) if source else None)
    return render(request, "tfapp/upload.html", {
        "form": form,
        "source": source,
        "presets": StylePreset.objects.all(),
        "model_error": engines.unavailable_reason(engines.DEFAULT_METHOD),
        "max_upload_bytes": conf.max_upload_bytes(),
        "method_data": form.method_data(),
        "recent": Transfer.objects.finished()[:6],
    })


def _source_transfer(public_id):
    try:
        return Transfer.objects.filter(public_id=public_id).first() if public_id else None
    except ValidationError:
        return None


def detail(request, public_id):
    transfer = get_object_or_404(Transfer.objects.prefetch_related("styles__preset"), public_id=public_id)
    return render(request, "tfapp/transfer_detail.html", {
        "transfer": transfer,
        "method": next((offer for offer in methods_on_offer() if offer.name == transfer.method), None),
        "other_methods": [offer for offer in methods_on_offer() if offer.name != transfer.method],
        "siblings": Transfer.objects.siblings_of(transfer),
    })


@require_POST
def cancel(request, public_id):
    """Stop a queued or running transfer; it ends cancelled, with no result."""
    transfer = get_object_or_404(Transfer, public_id=public_id)
    cancel_transfer(transfer)
    return redirect(transfer)


@require_POST
def try_method(request, public_id):
    """Run the same inputs and parameters again with another method (``method`` in the POST)."""
    source = get_object_or_404(Transfer.objects.prefetch_related("styles"), public_id=public_id)
    data = {**{key: str(value) for key, value in TransferForm.initial_from(source).items() if value is not None},
            "method": request.POST.get("method", ""), "quality": request.POST.get("quality", "")}
    form = TransferForm(data, client=client_id(request))
    if not form.is_valid():
        for error in form.errors.get("__all__", []) + [e for name, errors in form.errors.items()
                                                        if name != "__all__" for e in errors]:
            messages.error(request, error)
        return redirect(source)
    transfer = form.save()
    enqueue_transfer(transfer.pk, transfer.queue)
    return redirect(transfer)


def status(request, public_id):
    """The transfer's progress as JSON for the result page.

    With ``?after=<token>`` (the token of the state the page shows) the answer waits
    until the state changes, up to ``NST_STATUS_WAIT`` seconds.
    """
    state = _progress_of(public_id)
    known = request.GET.get("after")
    if state and known == state["token"] and conf.status_wait() > 0:
        watcher.wait_for_change(public_id, known, conf.status_wait())
        state = _progress_of(public_id)
    if state is None:
        return JsonResponse({"error": "There is no transfer with this id; it may have been deleted."}, status=404)
    return JsonResponse(state)


def _progress_of(public_id):
    transfer = Transfer.objects.filter(public_id=public_id).first()
    return progress(transfer) if transfer else None


@require_POST
def retry(request, public_id):
    """Queue a failed or cancelled transfer again with the same inputs."""
    transfer = get_object_or_404(Transfer, public_id=public_id,
                                 status__in=(Transfer.Status.FAILED, Transfer.Status.CANCELLED))
    rerun(transfer)
    return redirect(transfer)


def download(request, public_id):
    """The result as a PNG attachment."""
    transfer = get_object_or_404(Transfer, public_id=public_id)
    if not transfer.result_image:
        raise Http404("This transfer has no result.")
    filename = f"stylized-{str(transfer.public_id)[:8]}.png"
    return FileResponse(transfer.result_image.open("rb"), as_attachment=True, filename=filename,
                        content_type="image/png")


class GalleryView(ListView):
    """Recent finished transfers as a grid of thumbnails."""

    queryset = Transfer.objects.finished().recent()
    template_name = "tfapp/gallery.html"
    context_object_name = "transfers"
    paginate_by = 24
