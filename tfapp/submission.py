"""The rules a new transfer is checked against, and where its photo and styles come from.

The upload form (and the API, through it) applies them; "Try another method"
(:mod:`tfapp.alternatives`) asks :func:`check_method` the same questions, so the
page offers no choice the form would refuse. Every refusal is a ValidationError
with one of :data:`MESSAGES`' codes.
"""
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db.models import Count, Q

from . import clip_uploads, conf, engines, pipeline, video
from .exceptions import UnsupportedByEngine
from .imaging import result_size
from .models import Transfer
from .processing import ImageInput, StyleChoice

MESSAGES = {
    "model_unavailable": "The style-transfer model is unavailable: %(reason)s",
    "unsupported": "%(reason)s",
    "too_slow": ("%(method)s would take about %(minutes)s minutes for a %(width)s x %(height)s px result, "
                 "more than this server allows (%(limit)s minutes). Choose a smaller output size or a lower "
                 "quality."),
    "clip_too_slow": ("%(method)s would take about %(minutes)s minutes for this %(frames)s-frame clip, more than "
                      "this server allows (%(limit)s minutes). Choose a shorter clip or a smaller output size."),
    "client_queue_full": "You already have %(count)s transfers waiting. Please wait for one to finish.",
    "queue_full": "The server is busy with %(count)s transfers. Please try again in a minute.",
    "no_source": "The transfer to re-run no longer exists; upload the images again.",
    "no_style": "Choose a style: upload an image or pick one of the paintings.",
    "fixed_style": "A trained style paints only the painting it was trained on; leave the style empty.",
    "zero_weights": "Give at least one style a weight above zero.",
    "missing_file": "A stored image of %(what)s is missing or damaged; please choose the images again.",
}
#: The error code for each control a method may refuse (see UnsupportedByEngine.control).
UNSUPPORTED_CODES = {"blending": "blend_unsupported", "strength": "strength_unsupported",
                     "preserve_colours": "colours_unsupported", "quality": "no_quality",
                     "regions": "regions_unsupported", "video": "video_unsupported"}


def refusal(message, code=None, **params):
    """The ValidationError for ``MESSAGES[message]`` (with ``code`` when it differs), filled with ``params``."""
    return ValidationError(MESSAGES[message], code=code or message, params=params or None)


def check_method(name, style_count, options, photo=None, regions=False, clip=None):
    """Refuse method ``name`` where it cannot run ``options``; returns the queue a clip would run in.

    ``style_count`` counts the styles weighted above zero; ``photo`` is the photo's
    ``(width, height)``, or ``None`` when unknown; ``regions`` whether regions are painted;
    ``clip`` a clip's ``ClipInfo``.
    """
    check_available(name)
    method = engines.method_class(name)
    try:
        pipeline.check_controls(method, style_count, options, regions)
        if clip:
            pipeline.check_video(method)
    except UnsupportedByEngine as error:
        raise refusal("unsupported", UNSUPPORTED_CODES[error.control], reason=str(error)) from error
    if photo:
        check_time(method, options, photo)
    return clip_queue(method, options, clip) if clip else None


def clip_queue(method, options, clip):
    """The queue a clip runs in (:func:`tfapp.video.queue_for`, by its estimated time); refused when the
    estimate is over that queue's time limit."""
    queue = video.queue_for(method, clip, options.quality, options.max_size)
    seconds = video.estimate_seconds(method, clip, options.quality, options.max_size)
    if seconds > conf.job_time_limit(queue):
        raise refusal("clip_too_slow", method=method.label, minutes=round(seconds / 60), frames=clip.frames,
                      limit=round(conf.job_time_limit(queue) / 60))
    return queue


def check_available(name):
    reason = engines.unavailable_reason(name)
    if reason:
        raise refusal("model_unavailable", reason=reason)


def check_time(method, options, photo):
    """Refuse what the method would not finish within its queue's time limit, saying how long it would take."""
    width, height = result_size(photo, options.resolved().max_size)
    seconds = method.estimate_seconds(width, height, options.quality)
    limit = conf.job_time_limit(method.queue)
    if seconds > limit:
        raise refusal("too_slow", method=method.label, minutes=round(seconds / 60), width=width, height=height,
                      limit=round(limit / 60))


def check_queue(client):
    """Refuse a new transfer while the client, or the whole site, has as many waiting as allowed."""
    counts = Transfer.objects.pending().aggregate(mine=Count("pk", filter=Q(client=client)), total=Count("pk"))
    mine, total = counts["mine"], counts["total"]
    if mine >= conf.max_pending_per_client():
        raise refusal("client_queue_full", count=mine)
    if total >= conf.max_pending_total():
        raise refusal("queue_full", count=total)


def source_transfer(public_id):
    """The transfer a re-run repeats, or None without one. Refuses an id that names none."""
    if public_id is None:
        return None
    source = Transfer.objects.filter(public_id=public_id).first()
    if source is None:
        raise refusal("no_source")
    return source


def stored(field, what):
    """An ImageInput of a stored image; refused, naming ``what``, when the file is missing."""
    try:
        return ImageInput.from_stored(field)
    except OSError as error:
        raise refusal("missing_file", what=what) from error


def stored_clip(transfer):
    """The ClipInput of a re-run clip transfer's clip, checked again (refused when missing or now over a limit)."""
    return clip_uploads.clip_from_stored(transfer.content_clip)


def style_choices(method, chosen, source, weight_of):
    """The styles of a new transfer of ``method``: ``chosen`` ones, else a re-run's ``source``'s, reweighted.

    ``chosen`` holds ``(slot, upload, preset)`` of each slot given one; ``weight_of(slot)``
    is that slot's weight. A method without style input records its own painting.
    """
    if not method.capabilities.style_input:
        return _trained_painting(method.painting, chosen)
    if chosen:
        styles = [StyleChoice(ImageInput.from_upload(upload) if upload else stored(preset.image, preset),
                              weight_of(slot), None if upload else preset) for slot, upload, preset in chosen]
    elif source:
        styles = [StyleChoice(stored(style.image, "the transfer to re-run"), weight_of(style.position),
                              style.preset, style.style_vectors) for style in source.styles.all()]
    else:
        raise refusal("no_style")
    if not any(style.weight > 0 for style in styles):
        raise refusal("zero_weights")
    return styles


def _trained_painting(painting, chosen):
    """A trained style's one painting, recorded as the transfer's style; choosing another is refused."""
    if chosen:
        raise refusal("fixed_style")
    try:
        return [StyleChoice(ImageInput(ContentFile(painting.read_bytes()), painting.suffix))]
    except OSError as error:
        raise refusal("missing_file", what="the trained style") from error


def style_field(kind, slot):
    """Name of a style slot's field: ``style_image``, ``style_preset_2``, ``style_weight_4``…"""
    return f"style_{kind}" if slot == 0 else f"style_{kind}_{slot + 1}"
