from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.generic import ListView

from . import conf, engines
from .forms import TransferForm
from .models import Transfer
from .processing import run_transfer


def upload(request):
    """The home page: pick a photo and a style, get the stylized picture."""
    if request.method == "POST":
        form = TransferForm(request.POST, request.FILES)
        if form.is_valid():
            transfer = form.save()
            run_transfer(transfer.pk)
            return redirect(transfer)
    else:
        form = TransferForm()
    return render(request, "tfapp/upload.html", {
        "form": form,
        "model_error": engines.unavailable_reason(),
        "max_upload_bytes": conf.max_upload_bytes(),
        "recent": Transfer.objects.finished()[:6],
    })


def detail(request, public_id):
    transfer = get_object_or_404(Transfer, public_id=public_id)
    return render(request, "tfapp/transfer_detail.html", {"transfer": transfer})


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
