"""What repeats a transfer: the upload form's data and files for "Edit & re-run" and "Try another method".

The photo (or clip) and the styles come through the form's ``source``; the
parameters as initial data; the painted regions as the mask file they were sent as.
"""
from django.core.files.uploadedfile import SimpleUploadedFile

from .processing import region_styles_text
from .submission import refusal, style_field


def initial_data(transfer):
    """Initial data that repeats ``transfer``'s parameters (its images come through ``source``)."""
    initial = {"source": transfer.public_id, "method": transfer.method, "quality": transfer.quality,
               "strength": transfer.strength, "consistency": transfer.consistency,
               "preserve_colours": transfer.preserve_colours, "style_size": transfer.style_size,
               "output_size": transfer.max_size, "region_styles": transfer.region_styles,
               "feather": transfer.feather}
    for style in transfer.styles.all():
        initial[style_field("weight", style.position)] = round(style.weight)
    return initial


def files(transfer):
    """The files that repeat ``transfer`` with :func:`initial_data`: its regions' mask (photo and styles come
    through ``source``). Refused (a ValidationError) when the stored mask is missing."""
    if not transfer.regions_mask:
        return {}
    try:
        with transfer.regions_mask.open("rb") as mask:
            return {"mask": SimpleUploadedFile("regions.png", mask.read(), "image/png")}
    except OSError as error:
        raise refusal("missing_file", what="the regions of the transfer to re-run") from error


def same_regions(painted, transfer):
    """Whether ``painted`` (Regions or None) are the regions ``transfer`` was stored with."""
    if not transfer.regions_mask:
        return painted is None
    return painted is not None and painted.feather == transfer.feather and \
        region_styles_text(painted) == transfer.region_styles and _stored_bytes(transfer.regions_mask) == painted.png()


def _stored_bytes(field):
    try:
        with field.open("rb") as stored:
            return stored.read()
    except OSError:
        return None
