import hashlib

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Prefetch, prefetch_related_objects
from django.forms import ModelChoiceField
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django.views.generic import ListView

from . import conf, engines, reruns, video
from .alternatives import alternatives
from .forms import TransferForm
from .models import StylePreset, Transfer, TransferStyle
from .ownership import Ownership, client_id
from .progress import progress, watcher
from .results import result_file
from .tasks import cancel as cancel_transfer
from .tasks import rerun, submit


def upload(request):
    """The home page: pick a photo and styles; the transfer is queued for a worker.

    ``?from=<public id>`` opens the form with an earlier transfer's inputs and parameters.
    """
    if request.method == "POST":
        form = TransferForm(request.POST, request.FILES, client=client_id(request),
                            ownership=Ownership.of_request(request, create=True))
        if form.is_valid():
            with transaction.atomic():
                # A new visitor's session is written with the transfer, before the commit wakes a
                # worker: the answer then writes nothing while the worker starts.
                if request.session.modified:
                    request.session.save()
                transfer = submit(form)
            return redirect(transfer)
        source = form.source
    else:
        source = _source_transfer(request.GET.get("from"))
        form = TransferForm(initial=reruns.initial_data(source) if source else None)
    presets = list(StylePreset.objects.offered())
    return render(request, "tfapp/upload.html", {
        "form": form,
        "source": source,
        "presets": presets,
        "fields_cache_key": None if form.is_bound or source else _fields_cache_key(form, presets),
        "model_error": engines.unavailable_reason(engines.DEFAULT_METHOD),
        "max_upload_bytes": conf.max_upload_bytes(),
        "max_clip_bytes": conf.video_max_bytes(),
        "method_data": engines.page_data(form.methods),
        "clip_estimate": video.page_terms(),
        "recent": Transfer.objects.finished().visible_to(Ownership.of_request(request))[:6],
    })


def _fields_cache_key(form, presets):
    """A key for the inputs of an empty form: it changes with everything they show (presets, methods, settings).

    Rendering them is most of the page's work, and they are the same for every visitor.
    """
    shown = [(preset.pk, preset.name, preset.artist, preset.year, preset.licence, preset.image.name,
              preset.thumbnail.name) for preset in presets]
    shown += [(offer.name, offer.label, offer.description, offer.unavailable_reason, offer.capabilities, offer.reasons,
               offer.strength_help) for offer in form.methods]
    # A preset field's choices are the presets above; the other fields' choices come from settings.
    shown += [(name, field.initial, None if isinstance(field, ModelChoiceField) else getattr(field, "choices", None))
              for name, field in form.fields.items()]
    return hashlib.sha256(repr(shown).encode()).hexdigest()


def _source_transfer(public_id):
    try:
        return Transfer.objects.filter(public_id=public_id).first() if public_id else None
    except ValidationError:
        return None


def detail(request, public_id):
    """A transfer's page: anyone with its (unguessable) link may see it; only its owner may change it."""
    # One query for the transfer and its siblings (the same inputs run with other methods).
    same_inputs = list(Transfer.objects.same_inputs_as(public_id))
    transfer = next((other for other in same_inputs if other.public_id == public_id), None)
    if transfer is None:
        raise Http404("There is no transfer with this id; it may have been deleted.")
    prefetch_related_objects([transfer], Prefetch("styles", TransferStyle.objects.shown()))
    ownership = Ownership.of_request(request)
    finished = transfer.status not in (Transfer.Status.QUEUED, Transfer.Status.RUNNING)
    return render(request, "tfapp/transfer_detail.html", {
        "transfer": transfer,
        "is_owner": ownership.owns(transfer),
        "method": next((offer for offer in engines.offers() if offer.name == transfer.method), None),
        "alternatives": alternatives(transfer) if finished else [],
        "siblings": [other for other in same_inputs if other is not transfer and ownership.sees(other)],
    })


@require_POST
def cancel(request, public_id):
    """Stop a queued or running transfer of the requester's; it ends cancelled, with no result."""
    transfer = _owned_transfer(request, public_id)
    cancel_transfer(transfer)
    return redirect(transfer)


@require_POST
def try_method(request, public_id):
    """Run the same inputs and parameters again with another method (``method`` in the POST).

    The new transfer is the requester's, whoever made the one it repeats.
    """
    source = get_object_or_404(Transfer.objects.prefetch_related("styles"), public_id=public_id)
    data = {**{key: str(value) for key, value in reruns.initial_data(source).items() if value is not None},
            "method": request.POST.get("method", ""), "quality": request.POST.get("quality", "")}
    try:
        files = reruns.files(source)
    except ValidationError as error:
        messages.error(request, error.messages[0])
        return redirect(source)
    form = TransferForm(data, files, client=client_id(request), ownership=Ownership.of_request(request, create=True))
    if not form.is_valid():
        for error in form.errors.get("__all__", []) + [e for name, errors in form.errors.items()
                                                        if name != "__all__" for e in errors]:
            messages.error(request, error)
        return redirect(source)
    return redirect(submit(form))


def status(request, public_id):
    """The transfer's progress as JSON for the result page.

    With ``?after=<token>`` (the token of the state the page shows) the answer waits
    until the state changes, up to ``NST_STATUS_WAIT`` seconds.
    """
    known = request.GET.get("after")
    waits = bool(known) and conf.status_wait() > 0
    # The page asks again as soon as it is answered; the watcher still has its state then.
    state = watcher.latest(public_id) if waits else None
    if state is None or state["token"] != known:
        state = _progress_of(public_id)
    if state and waits and known == state["token"]:
        state = watcher.wait_for_change(public_id, known, conf.status_wait(), unchanged=state)
    if state is None:
        return JsonResponse({"error": "There is no transfer with this id; it may have been deleted."}, status=404)
    return JsonResponse(state)


def _progress_of(public_id):
    transfer = Transfer.objects.filter(public_id=public_id).first()
    return progress(transfer) if transfer else None


@require_POST
def retry(request, public_id):
    """Queue the requester's failed or cancelled transfer again with the same inputs."""
    transfer = _owned_transfer(request, public_id)
    if transfer.status not in (Transfer.Status.FAILED, Transfer.Status.CANCELLED):
        raise Http404("Only a failed or cancelled transfer can be run again.")
    rerun(transfer)
    return redirect(transfer)


def download(request, public_id):
    """The result as an attachment: a PNG, or a clip's MP4."""
    transfer = get_object_or_404(Transfer, public_id=public_id)
    if not transfer.result_image:
        raise Http404("This transfer has no result.")
    return result_file(transfer)


def _owned_transfer(request, public_id):
    """The transfer, if the request's owner owns it: 404 when there is none, 403 when it is someone else's."""
    transfer = get_object_or_404(Transfer, public_id=public_id)
    if not Ownership.of_request(request).owns(transfer):
        raise PermissionDenied("Only the person who made this transfer can change it.")
    return transfer


@require_POST
def share(request, public_id):
    """Show the transfer in the public gallery (``shared=on``) or take it out of it."""
    transfer = _owned_transfer(request, public_id)
    transfer.shared = request.POST.get("shared") == "on"
    transfer.save(update_fields=["shared"])
    messages.success(request, "Shared in the public gallery." if transfer.shared else "No longer in the public gallery.")
    return redirect(transfer)


def delete(request, public_id):
    """Ask to confirm, then delete the transfer's row and all its files."""
    transfer = _owned_transfer(request, public_id)
    if request.method == "POST":
        transfer.delete()
        messages.success(request, "The transfer and its images are deleted.")
        return redirect("tfapp:gallery")
    return render(request, "tfapp/transfer_confirm_delete.html", {"transfer": transfer})


class GalleryView(ListView):
    """Finished transfers as a grid of thumbnails: the visitor's own and shared ones, or one of the two."""

    template_name = "tfapp/gallery.html"
    context_object_name = "transfers"
    paginate_by = 24
    scope = "visible"  # "visible", "mine" or "public"

    def get_queryset(self):
        ownership = Ownership.of_request(self.request)
        transfers = Transfer.objects.finished().recent()
        if self.scope == "public":
            return transfers.shared()
        return transfers.owned_by(ownership) if self.scope == "mine" else transfers.visible_to(ownership)

    def get_context_data(self, **kwargs):
        return super().get_context_data(scope=self.scope, **kwargs)
